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

// wgSpan is the distance between the transform-domain elements' matrices
// of size values. The 64 bytes beyond the matrix keep the 36 streams that
// a transform writes from mapping onto one cache set: with power-of-two
// channel counts the matrices are multiples of 4 KB, and without the
// padding the filter transform of a 512-channel layer ran at a third of
// its speed.
func wgSpan(size int) int { return size + 16 }

// wgBlockTiles is how many tiles one work item transforms and multiplies:
// the GEMMs' column count. Measured with BenchmarkWinograd (WG_TILES):
// see wgBlock.
var wgBlockTiles = 0

// wgBlock is the tiles per work item for g: enough columns for the GEMM
// to run near its peak, few enough that the item's transform buffers
// (36 x (cin+cout) x tiles values) stay around 16 MB and that every
// worker gets items.
func wgBlock(g wgGeom) int {
	if wgBlockTiles > 0 {
		return wgBlockTiles
	}
	tb := (16 << 20) / (4 * wgElems * (g.cin + g.cout))
	tb = max(32, min(tb, 512)) &^ 15
	if per := ceilDivInt(g.tiles(), tensor.Workers()); tb > per {
		tb = max(per, 1)
	}
	return tb
}

// wgFilters writes u [36][cout][cin], the transformed filters of w
// [O][I][3][3]: with flip false cout=O and cin=I; with flip true the
// input-gradient filters, cout=I and cin=O, each 3x3 kernel turned by 180°.
// It walks u's rows in order: 36 streams written one value apart are
// cheap, where walking w in order for the flipped filters wrote each
// value to a new cache line (a third of a 512-channel step's time).
func wgFilters(w []float32, o, i int, flip bool, u []float32) {
	cout, cin := o, i
	if flip {
		cout, cin = i, o
	}
	span := wgSpan(cout * cin)
	tensor.ParallelMin(cout, max(1, 4096/cin), func(lo, hi int) {
		b0 := wgFiltersVector(w, o, i, flip, u, lo, hi)
		var g [9]float32
		for a := lo; a < hi; a++ {
			for b := b0; b < cin; b++ {
				if flip {
					src := w[(b*i+a)*9 : (b*i+a)*9+9]
					for k := range g {
						g[k] = src[8-k]
					}
				} else {
					copy(g[:], w[(a*i+b)*9:(a*i+b)*9+9])
				}
				filterTransform(&g, u[a*cin+b:], span)
			}
		}
	})
}

// filterTransform writes G g Gᵀ (6x6) of the 3x3 g to u[0], u[span], ...
// u[35*span], row-major. float32 is enough: the only inexact entries of G
// are 1/6, 1/3 and 2/3, each a rounding of a few 1e-8 (float64 cost five
// times as much here, where one layer transforms up to 2.4M filters twice
// per step, and gained nothing the tests could see).
func filterTransform(g *[9]float32, u []float32, span int) {
	var h [18]float32 // G g: 6x3
	for c := 0; c < 3; c++ {
		h[c], h[3+c], h[6+c], h[9+c], h[12+c], h[15+c] = filter1D(g[c], g[3+c], g[6+c])
	}
	_ = u[35*span]
	for r := 0; r < 6; r++ {
		t0, t1, t2, t3, t4, t5 := filter1D(h[r*3], h[r*3+1], h[r*3+2])
		e := r * 6 * span
		u[e], u[e+span], u[e+2*span], u[e+3*span], u[e+4*span], u[e+5*span] = t0, t1, t2, t3, t4, t5
	}
}

// filter1D is G g for one column g of three values.
func filter1D(g0, g1, g2 float32) (t0, t1, t2, t3, t4, t5 float32) {
	a, b := g0+g2, 4*g0+g2
	return g0, (a + g1) * sixth, (a - g1) * sixth, (b + 2*g1) * third, (b - 2*g1) * third, g2 * 0.25
}

// Multiplying by these instead of dividing by 6 and 3 made the filter
// transforms several times faster (a division takes ~15 cycles).
const sixth, third = 1.0 / 6, 1.0 / 3

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
		u0 + s12*sixth + s34*(4*third),
		d12*sixth + d34*(2*third),
		s12*sixth + s34*third + u5/4,
	}
}
