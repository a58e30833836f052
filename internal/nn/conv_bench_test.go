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
	batch := convBatch()
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
			setup()
			l.SetTraining(false)
			benchConvLoop(b, flop, func() { mustForward(b, l, x) })
		})
		b.Run(name+"/fwdbwd", func(b *testing.B) {
			setup()
			l.SetTraining(true)
			y, err := l.Forward(x)
			if err != nil {
				b.Fatal(err)
			}
			passes := 3.0 // forward, weight gradient, input gradient
			if s.in == 3 {
				passes = 2
			}
			benchConvLoop(b, passes*flop, fwdBwd(b, l, x, randTensor(r, y.Shape...)))
		})
	}
}

// BenchmarkWinograd compares the Winograd path with the im2col one on
// VGG16's convolution shapes (vggConvShapes), forward and forward plus
// backward, at batch 32 (CONV_BATCH=n to change; WG_TILES=n fixes the
// tiles per work item). GFLOP/s counts the direct convolution's
// arithmetic, so the two paths' figures compare as speeds:
//
//	go test ./internal/nn -run '^$' -bench 'Winograd/64to64@64' -benchtime 2x
func BenchmarkWinograd(b *testing.B) {
	batch := convBatch()
	if v := os.Getenv("WG_TILES"); v != "" {
		defer func(old int) { wgBlockTiles = old }(wgBlockTiles)
		wgBlockTiles, _ = strconv.Atoi(v)
	}
	for _, s := range vggConvShapes {
		var (
			l     *Conv2d
			x, dy *tensor.Tensor
		)
		setup := func() {
			if l == nil {
				r := rand.New(rand.NewPCG(1, 2))
				l = NewConv2d(s.in, s.out, 3, 1, 1, true, r)
				l.SetNeedInputGrad(s.in != 3)
				x = randTensor(r, batch, s.in, s.hw, s.hw)
				dy = randTensor(r, batch, s.out, s.hw, s.hw)
			}
		}
		flop := 2 * float64(batch*s.out*s.in*9*s.hw*s.hw)
		passes := 3.0
		if s.in == 3 {
			passes = 2
		}
		for _, m := range []struct {
			name string
			mode int
		}{{"im2col", WinogradOff}, {"winograd", WinogradOn}} {
			name := fmt.Sprintf("%dto%d@%d/N%d/%s", s.in, s.out, s.hw, batch, m.name)
			b.Run(name+"/fwd", func(b *testing.B) {
				setup()
				withWinograd(m.mode, func() {
					l.SetTraining(false)
					benchConvLoop(b, flop, func() { mustForward(b, l, x) })
				})
			})
			b.Run(name+"/fwdbwd", func(b *testing.B) {
				setup()
				withWinograd(m.mode, func() {
					l.SetTraining(true)
					benchConvLoop(b, passes*flop, fwdBwd(b, l, x, dy))
				})
			})
		}
	}
}

// BenchmarkWinogradTransforms times the tile transforms alone on a
// 64-channel 64x64 layer at batch 32, one work item of WG_TILES tiles
// (default 512) per op, and reports CPU nanoseconds per tile and channel.
func BenchmarkWinogradTransforms(b *testing.B) {
	tb := 512
	if v := os.Getenv("WG_TILES"); v != "" {
		tb, _ = strconv.Atoi(v)
	}
	g := newWgGeom(32, 64, 64, 64, 64, 1)
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, g.n*g.cin*g.h*g.w)
	out := make([]float32, g.n*g.cout*g.ho*g.wo)
	v := make([]float32, wgElems*wgSpan(g.cin*tb))
	ts := make([]wgTile, tb)
	for _, pass := range []string{"input", "grad", "output"} {
		b.Run(pass, func(b *testing.B) {
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				wgTileList(g, (i*tb)%(g.tiles()-tb+1), ts)
				switch pass {
				case "input":
					wgInputTiles(g, x, ts, v)
				case "grad":
					wgGradTiles(g, out, ts, v)
				case "output":
					wgOutputTiles(g, v, ts, nil, out)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e9/float64(b.N*tb*g.cin), "cpu-ns/tile-chan")
		})
	}
}

// BenchmarkWinogradFilters times the filter transforms of a 512-channel
// layer (forward and flipped) and the filter-gradient transform back, and
// reports CPU nanoseconds per filter.
func BenchmarkWinogradFilters(b *testing.B) {
	const o, i = 512, 512
	r := rand.New(rand.NewPCG(1, 2))
	w := randSlice(r, o*i*9)
	u := make([]float32, wgElems*wgSpan(o*i))
	dw := make([]float32, o*i*9)
	for _, pass := range []string{"forward", "flipped", "grad"} {
		b.Run(pass, func(b *testing.B) {
			cpu0 := cpuSeconds()
			for range b.N {
				switch pass {
				case "forward", "flipped":
					wgFilters(w, o, i, pass == "flipped", u)
				case "grad":
					wgFilterGrads(u, o, i, dw)
				}
			}
			b.ReportMetric((cpuSeconds()-cpu0)*1e9/float64(b.N*o*i), "cpu-ns/filter")
		})
	}
}

// convBatch is the batch of the VGG16 convolution benchmarks: 32, or
// CONV_BATCH.
func convBatch() int {
	if v, err := strconv.Atoi(os.Getenv("CONV_BATCH")); err == nil {
		return v
	}
	return 32
}

// reportFlops reports flop floating-point operations since cpu0 as
// GFLOP/s, by wall time and per CPU-second.
func reportFlops(b *testing.B, flop, cpu0 float64) {
	reportRate(b, flop/1e9, cpu0, "GFLOP/s")
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
			benchConvLoop(b, flop, func() { mustForward(b, l, x) })
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
				benchConvLoop(b, flop, func() { mustForward(b, l, x) })
			})
		}
	}
}

// benchConvLoop runs step once to warm the scratch buffers, then b.N
// times, reporting flop per step as GFLOP/s.
func benchConvLoop(b *testing.B, flop float64, step func()) {
	step()
	measure(b, flop, "GFLOP/s", step)
}

func mustForward(b *testing.B, l Layer, x *tensor.Tensor) {
	if _, err := l.Forward(x); err != nil {
		b.Fatal(err)
	}
}
