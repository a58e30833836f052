package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var im2colGeoms = []ConvGeom{
	{C: 1, H: 5, W: 5, K: 3, Stride: 1, Pad: 1},
	{C: 2, H: 7, W: 9, K: 3, Stride: 1, Pad: 1},
	{C: 3, H: 7, W: 9, K: 3, Stride: 2, Pad: 1},
	{C: 2, H: 8, W: 6, K: 5, Stride: 1, Pad: 2},
	{C: 2, H: 9, W: 7, K: 5, Stride: 2, Pad: 0},
	{C: 4, H: 6, W: 5, K: 1, Stride: 1, Pad: 0},
	{C: 2, H: 6, W: 5, K: 1, Stride: 2, Pad: 0},
	{C: 2, H: 4, W: 4, K: 3, Stride: 3, Pad: 2},
	{C: 2, H: 3, W: 3, K: 3, Stride: 1, Pad: 0},
	{C: 1, H: 2, W: 40, K: 3, Stride: 1, Pad: 1}, // rows long enough for copy()
	{C: 3, H: 4, W: 4, K: 3, Stride: 1, Pad: 1},  // a 4x4 map, as in VGG at 64x64 input
	{C: 2, H: 3, W: 8, K: 3, Stride: 1, Pad: 1},
	{C: 2, H: 1, W: 1, K: 3, Stride: 1, Pad: 1},
	// Negative padding crops: the input-gradient convolution of a layer
	// whose padding exceeds K-1.
	{C: 2, H: 6, W: 7, K: 1, Stride: 1, Pad: -1},
	{C: 2, H: 8, W: 8, K: 3, Stride: 1, Pad: -1},
}

// naiveIm2col is the definition, one element at a time.
func naiveIm2col(g ConvGeom, x []float32) [][]float32 {
	ho, wo := g.OutH(), g.OutW()
	col := make([][]float32, g.Rows())
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.K; ki++ {
			for kj := 0; kj < g.K; kj++ {
				row := make([]float32, ho*wo)
				for oy := 0; oy < ho; oy++ {
					for ox := 0; ox < wo; ox++ {
						iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
						if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
							row[oy*wo+ox] = x[(c*g.H+iy)*g.W+ix]
						}
					}
				}
				col[(c*g.K+ki)*g.K+kj] = row
			}
		}
	}
	return col
}

func geomName(g ConvGeom) string {
	return fmt.Sprintf("C%d_%dx%d_k%d_s%d_p%d", g.C, g.H, g.W, g.K, g.Stride, g.Pad)
}

func TestIm2colMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range im2colGeoms {
		t.Run(geomName(g), func(t *testing.T) {
			x := randSlice(r, g.C*g.H*g.W)
			want := naiveIm2col(g, x)
			ho, wo := g.OutH(), g.OutW()
			// Whole image, then bands of rows, written into a wider
			// matrix prefilled with NaN so that a skipped entry shows.
			for _, band := range []int{ho, 1, 2} {
				for r0 := 0; r0 < ho; r0 += band {
					r1 := min(r0+band, ho)
					n := (r1 - r0) * wo
					ld := n + 3
					col := make([]float32, g.Rows()*ld)
					for i := range col {
						col[i] = float32(math.NaN())
					}
					Im2col(g, x, r0, r1, col, ld)
					for row := 0; row < g.Rows(); row++ {
						for j := 0; j < n; j++ {
							if got, w := col[row*ld+j], want[row][r0*wo+j]; got != w {
								t.Fatalf("band %d rows [%d,%d) col[%d][%d] = %v, want %v", band, r0, r1, row, j, got, w)
							}
						}
						for j := n; j < ld; j++ {
							if !math.IsNaN(float64(col[row*ld+j])) {
								t.Fatalf("wrote past the band at col[%d][%d]", row, j)
							}
						}
					}
				}
			}
		})
	}
}

// TestCol2imIsAdjoint checks <im2col(x), c> == <x, col2im(c)> for random x
// and c, band by band, which is exactly what the convolution's input
// gradient relies on.
func TestCol2imIsAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, g := range im2colGeoms {
		t.Run(geomName(g), func(t *testing.T) {
			ho, wo := g.OutH(), g.OutW()
			x := randSlice(r, g.C*g.H*g.W)
			for _, band := range []int{ho, 2} {
				lhs, rhs := 0.0, 0.0
				back := make([]float32, len(x))
				for r0 := 0; r0 < ho; r0 += band {
					r1 := min(r0+band, ho)
					n := (r1 - r0) * wo
					ld := n + 1
					c := randSlice(r, g.Rows()*ld)
					col := make([]float32, len(c))
					Im2col(g, x, r0, r1, col, ld)
					for row := 0; row < g.Rows(); row++ {
						for j := 0; j < n; j++ {
							lhs += float64(col[row*ld+j]) * float64(c[row*ld+j])
						}
					}
					Col2im(g, c, ld, r0, r1, back)
				}
				for i := range x {
					rhs += float64(x[i]) * float64(back[i])
				}
				if math.Abs(lhs-rhs) > 1e-4*(1+math.Abs(lhs)) {
					t.Errorf("band %d: <im2col x, c> = %.6f, <x, col2im c> = %.6f", band, lhs, rhs)
				}
			}
		})
	}
}

func TestConvGeomOutSize(t *testing.T) {
	for _, tc := range []struct {
		g      ConvGeom
		ho, wo int
	}{
		{ConvGeom{C: 1, H: 224, W: 224, K: 3, Stride: 1, Pad: 1}, 224, 224},
		{ConvGeom{C: 1, H: 7, W: 9, K: 3, Stride: 2, Pad: 0}, 3, 4},
		{ConvGeom{C: 1, H: 8, W: 8, K: 2, Stride: 2, Pad: 0}, 4, 4},
		{ConvGeom{C: 1, H: 5, W: 5, K: 1, Stride: 1, Pad: -1}, 3, 3},
		{ConvGeom{C: 1, H: 2, W: 2, K: 3, Stride: 1, Pad: 0}, 0, 0},
	} {
		if ho, wo := tc.g.OutH(), tc.g.OutW(); ho != tc.ho || wo != tc.wo {
			t.Errorf("%s: out %dx%d, want %dx%d", geomName(tc.g), ho, wo, tc.ho, tc.wo)
		}
	}
}

var benchGeoms = []ConvGeom{
	// VGG's 3x3 convolutions at three sizes (Im2col's fast path).
	{C: 64, H: 224, W: 224, K: 3, Stride: 1, Pad: 1}, {C: 512, H: 14, W: 14, K: 3, Stride: 1, Pad: 1},
	{C: 512, H: 4, W: 4, K: 3, Stride: 1, Pad: 1},
	// Two for the general loop nest: a 7x7 stride-2 stem and a 3x3
	// stride-2 downsampling.
	{C: 3, H: 224, W: 224, K: 7, Stride: 2, Pad: 3}, {C: 64, H: 56, W: 56, K: 3, Stride: 2, Pad: 1},
}

func BenchmarkIm2col(b *testing.B) {
	benchColumns(b, func(g ConvGeom, x []float32, r0, r1 int, col []float32, ld int) {
		Im2col(g, x, r0, r1, col, ld)
	})
}

func BenchmarkCol2im(b *testing.B) {
	benchColumns(b, func(g ConvGeom, x []float32, r0, r1 int, col []float32, ld int) {
		Col2im(g, col, ld, r0, r1, x)
	})
}

// benchColumns runs f over the output rows of each of benchGeoms in bands
// of about 512 columns, as the convolution layers do, and reports the
// column matrix's bytes per second and per CPU second.
func benchColumns(b *testing.B, f func(g ConvGeom, x []float32, r0, r1 int, col []float32, ld int)) {
	for _, g := range benchGeoms {
		r := rand.New(rand.NewPCG(1, 1))
		x := randSlice(r, g.C*g.H*g.W)
		ho, wo := g.OutH(), g.OutW()
		band := max(1, min(ho, 512/wo))
		col := randSlice(r, g.Rows()*band*wo)
		b.Run(geomName(g), func(b *testing.B) {
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				for r0 := 0; r0 < ho; r0 += band {
					r1 := min(r0+band, ho)
					f(g, x, r0, r1, col, (r1-r0)*wo)
				}
			}
			bytes := float64(g.Rows()*ho*wo*4) * float64(b.N)
			b.ReportMetric(bytes/b.Elapsed().Seconds()/1e9, "GB/s")
			// As BenchmarkGemm: per CPU second, which other jobs on a
			// shared machine stretch far less than wall time.
			b.ReportMetric(bytes/(processCPU()-cpu0).Seconds()/1e9, "GB/cpu-s")
		})
	}
}
