//go:build unix

package nn

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"starid/internal/tensor"
)

// BenchmarkWinograd compares the Winograd path with the im2col one on
// VGG16's convolution shapes (vggConvShapes), forward and forward plus
// backward, at batch 32 (CONV_BATCH=n to change; WG_TILES=n fixes the
// tiles per work item). GFLOP/s counts the direct convolution's
// arithmetic, so the two paths' figures compare as speeds:
//
//	go test ./internal/nn -run '^$' -bench 'Winograd/64to64@64' -benchtime 2x
func BenchmarkWinograd(b *testing.B) {
	batch := 32
	if v := os.Getenv("CONV_BATCH"); v != "" {
		batch, _ = strconv.Atoi(v)
	}
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
