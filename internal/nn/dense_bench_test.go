//go:build unix

package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// Benchmarks of the layers around the convolutions, at VGG16 sizes, batch 32:
//
//	go test ./internal/nn -run '^$' -bench 'BatchNorm2d|ReLU|Dropout|Linear' -benchtime 5x
//
// The memory-bound layers report GB/s of the traffic they actually cause:
// BatchNorm2d reads its input twice and writes once forward (3 tensor
// sizes), and backward reads dy and x twice and writes dx once (5 sizes);
// a ReLU in place reads and writes once forward, reads two tensors and
// writes one backward. Linear reports GFLOP/s (forward 2·N·in·out, backward
// twice that). The machine is shared, so each also reports the rate per
// CPU-second of this process ("-cpu", scaled by the worker count): what the
// layer would do with the cores to itself.

func benchTensor(shape ...int) *tensor.Tensor {
	return randTensor(rand.New(rand.NewPCG(1, 2)), shape...)
}

// benchMap is benchTensor with its size in bytes, the unit the GB/s rates
// of the memory-bound layers count in.
func benchMap(shape []int) (*tensor.Tensor, float64) {
	return benchTensor(shape...), 4 * float64(tensor.Numel(shape))
}

// measure runs op b.N times and reports its rate in unit, op doing perOp
// of work (bytes or FLOP), both by wall time and per CPU-second.
func measure(b *testing.B, perOp float64, unit string, op func()) {
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for i := 0; i < b.N; i++ {
		op()
	}
	reportRate(b, perOp*float64(b.N)/1e9, cpu0, unit)
}

// reportRate reports total (in units of 10^9) done since cpu0 as a rate
// in unit by wall time and, as unit-cpu, per CPU-second scaled by the
// worker count: what the code would do with the cores to itself.
func reportRate(b *testing.B, total, cpu0 float64, unit string) {
	b.ReportMetric(total/b.Elapsed().Seconds(), unit)
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu*float64(tensor.Workers()), unit+"-cpu")
	}
}

// fwdBwd is one training step of l: Forward then Backward.
func fwdBwd(b *testing.B, l Layer, x, dy *tensor.Tensor) func() {
	return func() {
		l.Forward(x)
		if _, err := l.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBatchNorm2d(b *testing.B) {
	for _, shape := range [][]int{{32, 64, 224, 224}, {32, 64, 64, 64}, {32, 512, 14, 14}} {
		name := fmt.Sprintf("%dx%dx%dx%d", shape[0], shape[1], shape[2], shape[3])
		x, size := benchMap(shape)
		l := NewBatchNorm2d(shape[1])
		l.SetTraining(true)
		y, err := l.Forward(x)
		if err != nil {
			b.Fatal(err)
		}
		// Backward rewrites dy in place; for BatchNorm that map is a scaled
		// projection, so dy keeps its magnitude over the iterations.
		dy := randTensor(rand.New(rand.NewPCG(3, 4)), y.Shape...)
		b.Run(name+"/fwd", func(b *testing.B) {
			measure(b, 3*size, "GB/s", func() { l.Forward(x) })
		})
		b.Run(name+"/fwdbwd", func(b *testing.B) {
			measure(b, 8*size, "GB/s", fwdBwd(b, l, x, dy))
		})
	}
}

func BenchmarkReLU(b *testing.B) {
	shape := []int{32, 64, 224, 224}
	x, size := benchMap(shape)
	dy := randTensor(rand.New(rand.NewPCG(3, 4)), shape...)
	l := NewReLU(true)
	b.Run("inplace/fwd", func(b *testing.B) {
		measure(b, 2*size, "GB/s", func() { l.Forward(x) })
	})
	b.Run("inplace/bwd", func(b *testing.B) {
		// Random signs: the mask must not cost a mispredicted branch.
		y := benchTensor(shape...)
		l.y = y
		measure(b, 3*size, "GB/s", func() { l.Backward(dy) })
	})
	lk := NewLeakyReLU(0.1, false)
	b.Run("leaky/fwd", func(b *testing.B) {
		x := benchTensor(shape...)
		measure(b, 2*size, "GB/s", func() { lk.Forward(x) })
	})
}

func BenchmarkDropout(b *testing.B) {
	shape := []int{32, 512, 14, 14}
	x, size := benchMap(shape)
	dy := benchTensor(shape...)
	l := NewDropout(0.5, rand.New(rand.NewPCG(1, 2)))
	l.SetTraining(true)
	b.Run("fwdbwd", func(b *testing.B) {
		measure(b, 5*size, "GB/s", func() {
			l.Forward(x)
			l.Backward(dy)
		})
	})
}

func BenchmarkLinear(b *testing.B) {
	const n = 32
	for _, s := range []struct{ in, out int }{{25088, 17}, {25088, 4096}, {4096, 4096}} {
		l := NewLinear(s.in, s.out, true, rand.New(rand.NewPCG(1, 2)))
		x := benchTensor(n, s.in)
		dy := benchTensor(n, s.out)
		flop := 2 * float64(n*s.in*s.out)
		name := fmt.Sprintf("%s/%dto%d/N%d", tensor.Backend, s.in, s.out, n)
		b.Run(name+"/fwd", func(b *testing.B) {
			l.SetTraining(false)
			measure(b, flop, "GFLOP/s", func() { l.Forward(x) })
		})
		b.Run(name+"/fwdbwd", func(b *testing.B) {
			l.SetTraining(true)
			measure(b, 3*flop, "GFLOP/s", fwdBwd(b, l, x, dy))
		})
	}
}
