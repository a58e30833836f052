package train

import (
	"math/rand/v2"

	"starid/internal/nn"
)

// Random streams. Every random choice of a run comes from a stream derived
// from (seed, purpose, epoch) instead of one long generator, so the state
// at the start of any epoch is a pure function of the seed and the epoch
// number. A resumed run therefore needs no saved generator state to draw
// exactly what an uninterrupted run would have drawn: the checkpoint holds
// the weights, the optimizer state and the epoch count, nothing else.
const (
	streamInit    uint64 = iota + 1 // initial weights
	streamData                      // per epoch: batch order and augmentation
	streamDropout                   // per epoch and dropout layer: masks
)

// mix is SplitMix64's finalizer: a bijection on uint64 whose outputs for
// neighbouring inputs look unrelated.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// derive folds the seed, a stream and its indices into a PCG seed pair.
func derive(seed, stream uint64, idx ...uint64) (uint64, uint64) {
	const golden = 0x9e3779b97f4a7c15
	s := mix(seed + golden)
	s = mix(s ^ (stream * golden))
	for _, i := range idx {
		s = mix(s ^ mix(i+golden))
	}
	return s, mix(s + golden)
}

// streamRNG returns a fresh generator for one stream.
func streamRNG(seed, stream uint64, idx ...uint64) *rand.Rand {
	return rand.New(rand.NewPCG(derive(seed, stream, idx...)))
}

// dropoutSeeder owns the generators of a model's dropout layers. nn.Dropout
// draws from the *rand.Rand it was built with and offers no way to reseed
// it, so the model's Dropout layers are replaced by equivalent ones whose
// generator wraps a PCG source kept here, which Reseed can rewind.
type dropoutSeeder struct {
	sources []*rand.PCG
}

// takeOverDropout swaps every Dropout in net (at any depth) for one with
// the same probability drawing from a source the seeder controls.
func takeOverDropout(net nn.Layer) *dropoutSeeder {
	ds := &dropoutSeeder{}
	var walk func(l nn.Layer)
	walk = func(l nn.Layer) {
		seq, ok := l.(*nn.Sequential)
		if !ok {
			return
		}
		for i, child := range seq.Layers {
			if d, ok := child.(*nn.Dropout); ok {
				src := rand.NewPCG(0, 0)
				nd := nn.NewDropout(d.P, rand.New(src))
				nd.Training = d.Training
				seq.Layers[i] = nd
				ds.sources = append(ds.sources, src)
				continue
			}
			walk(child)
		}
	}
	walk(net)
	return ds
}

// Reseed sets every layer's generator to its stream for epoch.
func (ds *dropoutSeeder) Reseed(seed uint64, epoch int) {
	for k, src := range ds.sources {
		src.Seed(derive(seed, streamDropout, uint64(epoch), uint64(k)))
	}
}
