package train

import (
	"slices"
	"testing"

	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/tensor"
)

// TestDropoutReseed: after takeOverDropout the masks of an epoch depend on
// (seed, epoch) only, so an epoch replayed after a resume draws the same
// masks, and other epochs or seeds draw others.
func TestDropoutReseed(t *testing.T) {
	spec, _ := lookupSpec(tinyModel, 3, 1)
	net, err := models.Build(spec, streamRNG(1, streamInit))
	if err != nil {
		t.Fatal(err)
	}
	ds := takeOverDropout(net)
	if len(ds.sources) != 1 {
		t.Fatalf("took over %d dropout layers, want 1", len(ds.sources))
	}
	var drop *nn.Dropout
	for _, l := range net.Layers {
		if d, ok := l.(*nn.Dropout); ok {
			drop = d
		}
	}
	drop.SetTraining(true)
	x := tensor.New(4, 64)
	x.Fill(1)
	mask := func(seed uint64, epoch int) []float32 {
		ds.Reseed(seed, epoch)
		y, err := drop.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(y.Data)
	}
	a := mask(1, 3)
	mask(1, 4) // advance the generator: the reseed must rewind it
	if !slices.Equal(a, mask(1, 3)) {
		t.Error("the same (seed, epoch) gave a different mask")
	}
	if slices.Equal(a, mask(1, 4)) || slices.Equal(a, mask(2, 3)) {
		t.Error("another epoch or seed gave the same mask")
	}
}

func TestDeriveSeparatesStreams(t *testing.T) {
	seen := map[[2]uint64]string{}
	for _, s := range []struct {
		name         string
		seed, stream uint64
		idx          []uint64
	}{
		{"init", 1, streamInit, nil}, {"data 0", 1, streamData, []uint64{0}}, {"data 1", 1, streamData, []uint64{1}},
		{"drop 0 0", 1, streamDropout, []uint64{0, 0}}, {"drop 0 1", 1, streamDropout, []uint64{0, 1}},
		{"drop 1 0", 1, streamDropout, []uint64{1, 0}}, {"seed 2 data 0", 2, streamData, []uint64{0}},
	} {
		a, b := derive(s.seed, s.stream, s.idx...)
		if prev, ok := seen[[2]uint64{a, b}]; ok {
			t.Errorf("%s and %s share a stream", prev, s.name)
		}
		seen[[2]uint64{a, b}] = s.name
	}
}
