package nn_test

import (
	"fmt"
	"log"
	"math/rand/v2"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// A small classifier built from layers, run forward and backward the way
// a training step does, with a gradient checked against the loss itself:
// nudging one weight by ±h changes the loss by about 2h times that
// weight's gradient. (The check uses the last layer's weight: the loss is
// smooth in it, while a nudge to the convolution can push a value across
// the ReLU's or the pooling's corner and spoil the difference.)
func ExampleSequential() {
	rng := rand.New(rand.NewPCG(1, 2))
	fc := nn.NewLinear(4*4*4, 3, true, rng)
	net := nn.NewSequential(
		nn.NewConv2d(1, 4, 3, 1, 1, true, rng), // 1 -> 4 channels, 3x3, same size
		nn.NewReLU(true),
		nn.NewMaxPool2d(2, 2, 0), // 8x8 -> 4x4
		nn.NewFlatten(),
		fc, // 64 features -> 3 classes
	)
	net.SetTraining(true)

	x := tensor.New(2, 1, 8, 8) // two 8x8 grey images
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := []int{2, 0}
	// lossOf runs the net forward and returns the loss and its gradient
	// with respect to the logits.
	lossOf := func() (float64, *tensor.Tensor) {
		logits, err := net.Forward(x)
		if err != nil {
			log.Fatal(err)
		}
		loss, dlogits, err := nn.CrossEntropy(logits, labels)
		if err != nil {
			log.Fatal(err)
		}
		return loss, dlogits
	}

	nn.ZeroGrad(net)
	loss, dlogits := lossOf()
	if _, err := net.Backward(dlogits); err != nil { // fills every Param's Grad
		log.Fatal(err)
	}
	fmt.Printf("logits %v, loss %.3f\n", dlogits.Shape, loss)

	w := fc.Weight.Value.Data
	const h = 1e-2
	for _, i := range []int{0, 100, 150} {
		w[i] += h
		up, _ := lossOf()
		w[i] -= 2 * h
		down, _ := lossOf()
		w[i] += h
		fmt.Printf("dL/dw[%d]: backward %.3f, central difference %.3f\n", i, fc.Weight.Grad.Data[i], (up-down)/(2*h))
	}
	// Output:
	// logits [2 3], loss 0.878
	// dL/dw[0]: backward 0.002, central difference 0.002
	// dL/dw[100]: backward 0.146, central difference 0.146
	// dL/dw[150]: backward 0.024, central difference 0.024
}
