//go:build unix

package nn

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"starid/internal/tensor"
	"starid/internal/testkit"
)

// VGG16's convolution shapes at 224x224 and 64x64 input, batch 32. Run with
//
//	go test ./internal/nn -run '^$' -bench Conv2d -benchtime 3x
//
// (one 64->64@224 forward+backward is ~350 GFLOP, several seconds).
// Besides GFLOP/s over wall time it reports GFLOP per CPU-second of the
// process times the worker count ("GFLOP/s-cpu"): what the wall figure
// would be with the cores to itself, which stays meaningful when other
// processes share the machine.
// CONV_COL_TARGET=n overrides convColTarget to tune the work plan.
var vggConvShapes = []struct {
	in, out, hw int
}{
	{3, 64, 224}, {64, 64, 224}, {128, 128, 112}, {256, 256, 56}, {512, 512, 28}, {512, 512, 14},
	{64, 64, 64}, {64, 128, 32}, {128, 128, 32}, {256, 256, 16}, {512, 512, 8}, {512, 512, 4},
}

func BenchmarkConv2d(b *testing.B) {
	if v := os.Getenv("CONV_COL_TARGET"); v != "" {
		t, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		defer func(old int) { convColTarget = old }(convColTarget)
		convColTarget = t
	}
	batch := 32
	if v := os.Getenv("CONV_BATCH"); v != "" {
		batch, _ = strconv.Atoi(v)
	}
	for _, s := range vggConvShapes {
		var (
			l *Conv2d
			x *tensor.Tensor
			r = rand.New(rand.NewPCG(1, 2))
		)
		// Built on first use so that a -bench filter skips the cost.
		setup := func() {
			if l == nil {
				l = NewConv2d(s.in, s.out, 3, 1, 1, true, r)
				// The first layer of VGG needs no input gradient.
				l.SetNeedInputGrad(s.in != 3)
				x = randTensor(r, batch, s.in, s.hw, s.hw)
			}
		}
		flop := 2 * float64(batch*s.out*s.in*9*s.hw*s.hw)
		name := fmt.Sprintf("%s/%dto%d@%d/N%d", tensor.Backend, s.in, s.out, s.hw, batch)
		b.Run(name+"/fwd", func(b *testing.B) {
			var cpu0 float64
			setup()
			l.SetTraining(false)
			if _, err := l.Forward(x); err != nil { // warm-up: scratch buffers
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 = cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := l.Forward(x); err != nil {
					b.Fatal(err)
				}
			}
			reportFlops(b, flop*float64(b.N), cpu0)
		})
		b.Run(name+"/fwdbwd", func(b *testing.B) {
			var cpu0 float64
			setup()
			l.SetTraining(true)
			y, err := l.Forward(x)
			if err != nil {
				b.Fatal(err)
			}
			dy := randTensor(r, y.Shape...)
			if _, err := l.Backward(dy); err != nil {
				b.Fatal(err)
			}
			passes := 3.0 // forward, weight gradient, input gradient
			if s.in == 3 {
				passes = 2
			}
			b.ResetTimer()
			cpu0 = cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := l.Forward(x); err != nil {
					b.Fatal(err)
				}
				if _, err := l.Backward(dy); err != nil {
					b.Fatal(err)
				}
			}
			reportFlops(b, passes*flop*float64(b.N), cpu0)
		})
	}
}

func reportFlops(b *testing.B, flop, cpu0 float64) {
	b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := cpuSeconds() - cpu0; cpu > 0 {
		b.ReportMetric(flop/cpu*float64(tensor.Workers())/1e9, "GFLOP/s-cpu")
	}
}

// cpuSeconds is the process's CPU time so far, under the short name the
// benchmarks of this package use.
var cpuSeconds = testkit.CPUSeconds

// BenchmarkConv2dBatch1 times single-image inference on the face
// recognizer's shapes (dlib's ResNet on a 150x150 chip): the stem, the
// 3x3 SAME convolutions of each stage and the stride-2 ones that start
// them. At batch 1 these maps are small (35x35 down to 4x4), so how a
// layer splits one image across the workers decides its speed.
func BenchmarkConv2dBatch1(b *testing.B) {
	for _, s := range []struct {
		in, out, k, stride, pad, hw int
	}{
		{3, 32, 7, 2, 0, 150},
		{32, 32, 3, 1, 1, 35}, {32, 64, 3, 2, 0, 35}, {64, 64, 3, 1, 1, 17},
		{64, 128, 3, 2, 0, 17}, {128, 128, 3, 1, 1, 8}, {128, 256, 3, 2, 0, 8},
		{256, 256, 3, 1, 1, 4}, {256, 256, 3, 2, 0, 4},
	} {
		r := rand.New(rand.NewPCG(1, 2))
		l := NewConv2d(s.in, s.out, s.k, s.stride, s.pad, true, r)
		l.SetTraining(false)
		l.SetNeedInputGrad(false)
		x := randTensor(r, 1, s.in, s.hw, s.hw)
		g := l.geom(s.hw, s.hw)
		flop := 2 * float64(s.out*g.Rows()*g.OutH()*g.OutW())
		b.Run(fmt.Sprintf("k%ds%d/%dto%d@%d", s.k, s.stride, s.in, s.out, s.hw), func(b *testing.B) {
			benchForward(b, l, x, flop)
		})
	}
}

// BenchmarkConv2dTaps sets Conv2d's direct algorithm against its GEMM
// lowering (tapsOff) at batch 1 on the face detector's shapes: conv0
// on the four-row bands its fused pooling feeds it, and the 1x1
// convolutions of its first blocks, with 16 to 64 input channels (the
// last is beyond convTapsMax and shows why), and the stride-2 first layers
// of the recognizer (7x7) and the landmark net (3x3), and the recognizer's
// 3x3 SAME convolutions from 35x35 down to 4x4 (the last is past
// convTapsMax).
func BenchmarkConv2dTaps(b *testing.B) {
	if !tapsSIMD() {
		b.Skip("skipping: the direct algorithm needs AVX2")
	}
	for _, s := range []struct {
		in, out, k, stride, pad, h, w int
	}{
		{3, 16, 3, 1, 0, 4, 322}, {3, 16, 3, 1, 0, 4, 418}, {16, 32, 1, 1, 0, 159, 159}, {32, 64, 1, 1, 0, 80, 80},
		{64, 128, 1, 1, 0, 40, 40}, {32, 64, 1, 1, 0, 256, 256}, {3, 32, 7, 2, 0, 150, 150}, {3, 32, 3, 2, 0, 113, 113},
		{32, 32, 3, 1, 1, 35, 35}, {64, 64, 3, 1, 1, 17, 17}, {128, 128, 3, 1, 1, 8, 8}, {256, 256, 3, 1, 1, 4, 4},
	} {
		r := rand.New(rand.NewPCG(1, 2))
		l := NewConv2d(s.in, s.out, s.k, s.stride, s.pad, true, r)
		l.SetTraining(false)
		x := randTensor(r, 1, s.in, s.h, s.w)
		g := l.geom(s.h, s.w)
		flop := 2 * float64(s.out*g.Rows()*g.OutH()*g.OutW())
		for _, algo := range []string{"taps", "gemm"} {
			b.Run(fmt.Sprintf("k%ds%dp%d/%dto%d@%dx%d/%s", s.k, s.stride, s.pad, s.in, s.out, s.h, s.w, algo), func(b *testing.B) {
				if algo == "gemm" {
					tapsOff = true
					defer func() { tapsOff = false }()
				} else if !l.useTaps(1, g.OutW()) {
					b.Skip("not taken by the direct algorithm")
				}
				benchForward(b, l, x, flop)
			})
		}
	}
}

// benchForward times l.Forward(x) after one untimed call (which sizes the
// layer's buffers) and reports flop floating-point operations per call as GFLOP/s.
func benchForward(b *testing.B, l *Conv2d, x *tensor.Tensor, flop float64) {
	b.Helper()
	if _, err := l.Forward(x); err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuSeconds()
	for b.Loop() {
		if _, err := l.Forward(x); err != nil {
			b.Fatal(err)
		}
	}
	reportFlops(b, flop*float64(b.N), cpu0)
}
