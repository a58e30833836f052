package nn

import (
	"os"

	"starid/internal/tensor"
)

// Winograd minimal filtering F(4x4, 3x3) for 3x3 stride-1 convolutions
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016). A 6x6 input tile d and a 3x3 filter g give a 4x4 output tile
//
//	Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A
//
// in 36 multiplications instead of 144. Over a layer, each of the 36
// transform-domain elements is one GEMM: [Out x In] filters times
// [In x tiles] input transforms, tiles taken across the whole batch, so the
// products run at the GEMM's speed with 4x fewer of them than im2col's.
//
// The matrices come from the Toom-Cook construction with interpolation
// points 0, 1, -1, 1/2, -1/2 and ∞ (derived with exact fractions: Aᵀ holds
// the powers of the points, G the filter's values at them, Bᵀ the
// transposed inverse Vandermonde matrix, each row scaled to integers with
// the factor moved into G):
//
//	Bᵀ = [1  0 -5  0  4  0]   G = [  1    0    0 ]   Aᵀ = [1 1  1  1    1   0]
//	     [0 -1 -1  4  4  0]       [ 1/6  1/6  1/6]        [0 1 -1 1/2 -1/2  0]
//	     [0  1 -1 -4  4  0]       [ 1/6 -1/6  1/6]        [0 1  1 1/4  1/4  0]
//	     [0  1  2 -1 -2  0]       [ 4/3  2/3  1/3]        [0 1 -1 1/8 -1/8  1]
//	     [0 -1  2  1 -2  0]       [ 4/3 -2/3  1/3]
//	     [0  1  0 -5  0  4]       [  0    0   1/4]
//
// Bᵀ is integers and Aᵀ powers of two, so only G (applied once per step,
// in float64) rounds; the rest of the error is float32 arithmetic on
// transformed values up to ~100x the inputs. Measured on VGG shapes
// (TestWinogradMatchesIm2col) it stays below 1e-5 of the output's scale,
// a tenth of the 1e-4 budget, so F(2x2, 3x3) is not needed.
//
// The weight gradient has its own transform: with Z = A dY Aᵀ of each
// output-gradient tile, dL/d(G g Gᵀ) = Σ_tiles Z ⊙ (Bᵀ d B), again one GEMM
// per element ([Out x tiles] times [tiles x In]), and dL/dg = Gᵀ (that) G.
// The input gradient of a stride-1 convolution is a convolution of dY with
// the flipped, transposed filters and padding 2-P, which is the forward
// machinery again.

const (
	wgM     = 4  // output tile side
	wgA     = 6  // input tile side
	wgElems = 36 // transform-domain elements
	wgEnv   = "STARID_WINOGRAD"
)

// WinogradMode says which 3x3 stride-1 convolutions take the Winograd
// path: WinogradAuto where the measured rule (useWinograd) says it is
// faster, WinogradOff never (the im2col and direct paths, for A/B runs), and
// WinogradOn always when the layer's shape allows it (for tests). The
// environment variable STARID_WINOGRAD=off|on|auto sets it at start.
var WinogradMode = winogradModeFromEnv()

// The modes of WinogradMode.
const (
	WinogradAuto = iota
	WinogradOff
	WinogradOn
)

func winogradModeFromEnv() int {
	switch os.Getenv(wgEnv) {
	case "off", "0":
		return WinogradOff
	case "on", "1":
		return WinogradOn
	}
	return WinogradAuto
}

// wgGeom is one Winograd convolution: n images of cin planes h x w, zero
// padding pad, giving cout planes ho x wo covered by th x tw tiles each.
type wgGeom struct {
	n, cin, cout, h, w, pad int
	ho, wo, th, tw          int
}

func newWgGeom(n, cin, cout, h, w, pad int) wgGeom {
	g := wgGeom{n: n, cin: cin, cout: cout, h: h, w: w, pad: pad, ho: h + 2*pad - 2, wo: w + 2*pad - 2}
	g.th, g.tw = ceilDivInt(g.ho, wgM), ceilDivInt(g.wo, wgM)
	return g
}

func (g wgGeom) tiles() int { return g.n * g.th * g.tw }

// wgBlockTiles is how many tiles one work item transforms and multiplies:
// the GEMMs' column count. Measured with BenchmarkWinograd (WG_TILES):
// see wgBlock.
var wgBlockTiles = 0

// wgBlock is the tiles per work item for g: enough columns for the GEMM
// to run near its peak, few enough that the item's transform buffers
// (36 x (cin+cout) x tiles values) stay around 8 MB and that every
// worker gets items.
func wgBlock(g wgGeom) int {
	if wgBlockTiles > 0 {
		return wgBlockTiles
	}
	tb := (8 << 20) / (4 * wgElems * (g.cin + g.cout))
	tb = max(32, min(tb, 512)) &^ 15
	if per := ceilDivInt(g.tiles(), tensor.Workers()); tb > per {
		tb = max(per, 1)
	}
	return tb
}

// wgFilters writes u [36][cout][cin], the transformed filters of w
// [O][I][3][3]: with flip false cout=O and cin=I; with flip true the
// input-gradient filters, cout=I and cin=O, each 3x3 kernel turned by 180°.
func wgFilters(w []float32, o, i int, flip bool, u []float32) {
	cout, cin := o, i
	if flip {
		cout, cin = i, o
	}
	plane := cout * cin
	tensor.ParallelMin(o, max(1, 4096/i), func(lo, hi int) {
		var g [9]float64
		var t [wgElems]float64
		for oo := lo; oo < hi; oo++ {
			for ii := 0; ii < i; ii++ {
				src := w[(oo*i+ii)*9 : (oo*i+ii+1)*9]
				for k := range g {
					if flip {
						g[k] = float64(src[8-k])
					} else {
						g[k] = float64(src[k])
					}
				}
				filterTransform(&g, &t)
				at := oo*cin + ii
				if flip {
					at = ii*cin + oo
				}
				for e, v := range t {
					u[e*plane+at] = float32(v)
				}
			}
		}
	})
}

// filterTransform sets t = G g Gᵀ (6x6) of the 3x3 g, row-major.
func filterTransform(g *[9]float64, t *[wgElems]float64) {
	var h [18]float64 // G g: 6x3
	for c := 0; c < 3; c++ {
		g0, g1, g2 := g[c], g[3+c], g[6+c]
		col := filter1D(g0, g1, g2)
		for r := 0; r < 6; r++ {
			h[r*3+c] = col[r]
		}
	}
	for r := 0; r < 6; r++ {
		row := filter1D(h[r*3], h[r*3+1], h[r*3+2])
		copy(t[r*6:r*6+6], row[:])
	}
}

func filter1D(g0, g1, g2 float64) [6]float64 {
	return [6]float64{
		g0,
		(g0 + g1 + g2) / 6,
		(g0 - g1 + g2) / 6,
		(4*g0 + 2*g1 + g2) / 3,
		(4*g0 - 2*g1 + g2) / 3,
		g2 / 4,
	}
}

// filterGradTransform adds Gᵀ u G (3x3) of the 6x6 u to dw.
func filterGradTransform(u *[wgElems]float64, dw []float32) {
	var h [18]float64 // Gᵀ u: 3x6
	for c := 0; c < 6; c++ {
		r := filterGrad1D(u[c], u[6+c], u[12+c], u[18+c], u[24+c], u[30+c])
		h[c], h[6+c], h[12+c] = r[0], r[1], r[2]
	}
	for r := 0; r < 3; r++ {
		v := filterGrad1D(h[r*6], h[r*6+1], h[r*6+2], h[r*6+3], h[r*6+4], h[r*6+5])
		for c := 0; c < 3; c++ {
			dw[r*3+c] += float32(v[c])
		}
	}
}

// filterGrad1D is Gᵀ u for one column u of six values.
func filterGrad1D(u0, u1, u2, u3, u4, u5 float64) [3]float64 {
	s12, d12, s34, d34 := u1+u2, u1-u2, u3+u4, u3-u4
	return [3]float64{
		u0 + s12/6 + s34*4/3,
		d12/6 + d34*2/3,
		s12/6 + s34/3 + u5/4,
	}
}
