package models_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
)

// Build a VGG16 from its name, as `starid train --model` does, and take
// one training step: forward, cross-entropy, backward, Adam. The width
// 1/16 and 32x32 input keep it to milliseconds; the layers are the
// tutorial's.
func ExampleBuild() {
	spec, err := models.ByNameWidth("vgg16-bn-dropout-light", 3, 1.0/16)
	if err != nil {
		fmt.Println(err)
		return
	}
	net, err := models.Build(spec, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	total, trainable := nn.CountParams(net)
	fmt.Printf("%s: %d layers at the top, %d parameters (%d trainable)\n",
		spec.Name, len(net.Layers), total, trainable)

	// Four random 32x32 RGB images and their classes.
	r := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(4, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	labels := []int{0, 1, 2, 1}

	opt := optim.NewAdam(net.Params(), optim.AdamConfig{LR: 1e-3})
	net.SetTraining(true)
	nn.ZeroGrad(net)
	logits, err := net.Forward(x)
	if err != nil {
		fmt.Println(err)
		return
	}
	loss, dlogits, err := nn.CrossEntropy(logits, labels)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := net.Backward(dlogits); err != nil {
		fmt.Println(err)
		return
	}
	first := net.Params()[0].Value.Data[0]
	if err := opt.Step(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("logits %v, loss %.2f (ln 3 = 1.10: no better than chance yet)\n", logits.Shape, loss)
	// Adam's first step moves every weight with a gradient by the
	// learning rate, against the gradient's sign.
	fmt.Printf("the first weight moved by %.4f\n", math.Abs(float64(net.Params()[0].Value.Data[0]-first)))
	// Output:
	// vgg16-bn-dropout-light: 9 layers at the top, 62719 parameters (62719 trainable)
	// logits [4 3], loss 1.09 (ln 3 = 1.10: no better than chance yet)
	// the first weight moved by 0.0010
}
