package nn

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// A shape error deep in nested Sequentials names the full path, the layer
// and both shapes.
func TestSequentialErrorPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	inner := NewNamedSequential([]string{"0", "1"}, []Layer{NewConv2d(3, 4, 3, 1, 1, true, rng), NewReLU(true)})
	net := NewNamedSequential([]string{"block1", "head"}, []Layer{inner, NewLinear(10, 2, true, rng)})
	_, err := net.Forward(tensor.New(1, 5, 8, 8))
	var se *ShapeError
	if err == nil || !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "block1.0: Conv2d(3, 4") ||
		!strings.Contains(err.Error(), "[1, 5, 8, 8]") {
		t.Fatalf("error %v", err)
	}
	_, err = net.Forward(tensor.New(1, 3, 8, 8))
	if err == nil || !strings.HasPrefix(err.Error(), "head: Linear(in_features=10") || !strings.Contains(err.Error(), "[1, 4, 8, 8]") {
		t.Fatalf("error %v", err)
	}
	if _, err := net.OutputShape([]int{1, 3, 8, 8}); err == nil || !strings.HasPrefix(err.Error(), "head: ") {
		t.Fatalf("OutputShape error %v", err)
	}
}

func TestStateDictNamesAndCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	net := NewNamedSequential([]string{"features", "fc"}, []Layer{
		NewSequential(NewConv2d(1, 2, 3, 1, 0, true, rng), NewBatchNorm2d(2)),
		NewLinear(4, 3, false, rng)})
	var names []string
	for _, e := range StateDict(net) {
		names = append(names, e.Name)
	}
	want := "features.0.weight features.0.bias features.1.weight features.1.bias features.1.running_mean features.1.running_var features.1.num_batches_tracked fc.weight"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("state dict\n got %s\nwant %s", got, want)
	}
	total, trainable := CountParams(net)
	if total != 2*9+2+2+2+12 || trainable != total {
		t.Fatalf("CountParams = %d, %d", total, trainable)
	}
	net.Layers[1].Params()[0].Frozen = true
	if _, trainable := CountParams(net); trainable != total-12 {
		t.Fatalf("frozen weight still counted as trainable: %d", trainable)
	}
}
