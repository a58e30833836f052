package optim

import (
	"sync"
	"testing"

	"starid/internal/nn"
)

// vgg16Params has the parameter shapes of the tutorial's VGG16 with 17
// classes: 134,330,193 values, 102.8M of them in the first Linear layer.
var vgg16Params = sync.OnceValue(func() []*nn.Param {
	var ps []*nn.Param
	in := 3
	for _, out := range []int{64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512} {
		ps = append(ps, nn.NewParam("weight", out, in, 3, 3), nn.NewParam("bias", out))
		in = out
	}
	for _, fc := range [][2]int{{4096, 25088}, {4096, 4096}, {17, 4096}} {
		ps = append(ps, nn.NewParam("weight", fc[0], fc[1]), nn.NewParam("bias", fc[0]))
	}
	// Cheap deterministic non-zero values: random generation of 268M
	// numbers would dominate the benchmark's set-up.
	for k, p := range ps {
		p.EnsureGrad()
		for i := range p.Value.Data {
			h := uint32(i+k) * 2654435761
			p.Value.Data[i] = float32(h>>8)/(1<<24) - 0.5
			p.Grad.Data[i] = (float32(h>>16&0xff) - 127.5) * 1e-4
		}
	}
	return ps
})

// BenchmarkStepVGG16 times one optimizer step over VGG16's 134M
// parameters. Each step streams the values, gradients and state through
// memory once (Adam: 4 arrays read, 3 written = 28 bytes per parameter).
//
//	go test -run XXX -bench StepVGG16 -benchtime 10x ./internal/optim
func BenchmarkStepVGG16(b *testing.B) {
	ps := vgg16Params()
	total := 0
	for _, p := range ps {
		total += p.Value.Numel()
	}
	if total != 134330193 {
		b.Fatalf("%d parameters, want 134330193", total)
	}
	for _, c := range []struct {
		name  string
		opt   Optimizer
		bytes int // per parameter per step
	}{
		{"adam", NewAdam(ps, AdamConfig{LR: 1e-4}), 28},
		{"adam_wd", NewAdam(ps, AdamConfig{LR: 1e-4, WeightDecay: 1e-4}), 28},
		{"adamw", NewAdamW(ps, AdamConfig{LR: 1e-4, WeightDecay: 1e-2}), 28},
		{"sgd", NewSGD(ps, SGDConfig{LR: 1e-3}), 12},
		{"sgd_momentum", NewSGD(ps, SGDConfig{LR: 1e-3, Momentum: 0.9}), 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := c.opt.Step(); err != nil { // allocate the state outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if err := c.opt.Step(); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/step")
			b.ReportMetric(float64(c.bytes*total)/sec/1e9, "GB/s")
		})
		// Release the state before the next optimizer allocates its own.
		c.opt = nil
	}
}

// BenchmarkPenaltyVGG16 times L1 and L2 over the same parameters (value
// and gradient in one pass).
func BenchmarkPenaltyVGG16(b *testing.B) {
	ps := vgg16Params()
	for _, c := range []struct {
		name string
		fn   func([]*nn.Param, float64) float64
	}{{"l1", L1Penalty}, {"l2", L2Penalty}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				c.fn(ps, 1e-12)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/op")
		})
	}
}

func BenchmarkZeroGradVGG16(b *testing.B) {
	opt := NewSGD(vgg16Params(), SGDConfig{LR: 1})
	for range b.N {
		opt.ZeroGrad()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/op")
}
