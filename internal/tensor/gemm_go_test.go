package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/cpu"
)

// gemmCase is one product with its operands laid out as a caller might:
// leading dimensions padded, slices starting at an odd offset, and the
// padding filled with NaN so that a kernel reading outside op(A), op(B) or
// the m x n window of C shows up in the result or in the padding.
type gemmCase struct {
	ta, tb           bool
	m, n, k          int
	alpha, beta      float32
	lda, ldb, ldc    int
	offA, offB, offC int
	a, b, c0         []float32 // c0: C before the call, padding included
	nanC             bool      // C's window is NaN too (only with beta == 0)
}

func newGemmCase(r *rand.Rand, ta, tb bool, m, n, k, pad, off int, alpha, beta float32, nanC bool) *gemmCase {
	g := &gemmCase{ta: ta, tb: tb, m: m, n: n, k: k, alpha: alpha, beta: beta, nanC: nanC}
	ar, ac := storedDims(ta, m, k)
	br, bc := storedDims(tb, k, n)
	g.lda, g.ldb, g.ldc = ac+pad, bc+pad, n+pad
	g.offA, g.offB, g.offC = off, (off+3)%8, (off+5)%8
	g.a = paddedMatrix(r, g.offA, ar, ac, g.lda, false)
	g.b = paddedMatrix(r, g.offB, br, bc, g.ldb, false)
	g.c0 = paddedMatrix(r, g.offC, m, n, g.ldc, nanC)
	return g
}

// paddedMatrix is rows x cols of N(0,1) values (or NaN when nanWindow) at
// leading dimension ld, starting off floats into the slice, with NaN in
// every float outside the window.
func paddedMatrix(r *rand.Rand, off, rows, cols, ld int, nanWindow bool) []float32 {
	nan := float32(math.NaN())
	s := make([]float32, off+rows*ld+3)
	for i := range s {
		s[i] = nan
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			if !nanWindow {
				s[off+i*ld+j] = float32(r.NormFloat64())
			}
		}
	}
	return s
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("m=%d n=%d k=%d ta=%v tb=%v alpha=%g beta=%g lda=%d ldb=%d ldc=%d offsets=%d,%d,%d nanC=%v",
		g.m, g.n, g.k, g.ta, g.tb, g.alpha, g.beta, g.lda, g.ldb, g.ldc, g.offA, g.offB, g.offC, g.nanC)
}

// check runs f on a copy of C and compares with the float64 reference:
// the window within a tolerance that grows with k, everything outside the
// window bit for bit unchanged.
func (g *gemmCase) check(f gemmFunc) error {
	want := append([]float32(nil), g.c0...)
	if g.beta == 0 {
		// BLAS: beta == 0 overwrites C without reading it (NaN or not);
		// the reference, which does read it, gets zeros.
		for i := 0; i < g.m; i++ {
			clear(want[g.offC+i*g.ldc : g.offC+i*g.ldc+g.n])
		}
	}
	naiveGemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a[g.offA:], g.lda, g.b[g.offB:], g.ldb, g.beta, want[g.offC:], g.ldc)
	got := append([]float32(nil), g.c0...)
	f(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a[g.offA:], g.lda, g.b[g.offB:], g.ldb, g.beta, got[g.offC:], g.ldc)
	scale := math.Max(1, math.Max(math.Abs(float64(g.alpha)), math.Abs(float64(g.beta))))
	tol := 1e-5 * float64(g.k+1) * scale
	for p := range got {
		i, j := (p-g.offC)/max(g.ldc, 1), (p-g.offC)%max(g.ldc, 1)
		inside := p >= g.offC && i < g.m && j < g.n
		if !inside {
			if math.Float32bits(got[p]) != math.Float32bits(g.c0[p]) {
				return fmt.Errorf("%v: wrote outside C at index %d: %v", g, p, got[p])
			}
			continue
		}
		d := math.Abs(float64(got[p]) - float64(want[p]))
		if !(d <= tol) { // also catches NaN
			return fmt.Errorf("%v: C[%d][%d] = %v, want %v (tol %g)", g, i, j, got[p], want[p], tol)
		}
	}
	return nil
}

// gemmLevels are the kernel families this machine can test: the detected
// one and everything below it that we ship.
func gemmLevels() []cpu.Level {
	levels := []cpu.Level{cpu.Generic}
	if cpu.Detected() >= cpu.AVX2 {
		levels = append(levels, cpu.AVX2)
	}
	return levels
}

func TestGemmGoKernelFollowsCPULevel(t *testing.T) {
	for _, l := range gemmLevels() {
		restore := cpu.SetLevel(l)
		name := goKernelName()
		restore()
		want := map[cpu.Level]string{cpu.Generic: "go-generic", cpu.AVX2: "go-avx2"}[l]
		if !strings.HasPrefix(name, want) {
			t.Errorf("level %v: kernel %q, want %q", l, name, want)
		}
	}
}

// gemmSizes are sizes around the kernels' tile (6x16, 4x4) and block
// (kc=256, mc=144) edges, primes, and 1.
var gemmSizes = []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 15, 16, 17, 23, 31, 32, 33, 47, 97, 143, 144, 145, 150, 255, 256, 257, 289, 300}

func TestGemmGoOddShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	params := [][2]float32{{1, 0}, {1, 1}, {0.7, 0.3}, {-1.5, 2}, {0, 0.5}, {2, 0}, {0, 0}}
	pick := func() int { return gemmSizes[r.IntN(len(gemmSizes))] }
	for _, l := range gemmLevels() {
		restore := cpu.SetLevel(l)
		for trial := 0; trial < 60; trial++ {
			m, n, k := pick(), pick(), pick()
			if trial < 8 { // always cover the tiniest and a whole-block case
				m, n, k = 1+trial%3, 1+trial/3, 1+trial
			}
			if m*n*k > 3e6 {
				k = 1 + k%40
			}
			ab := params[trial%len(params)]
			for tr := 0; tr < 4; tr++ {
				nanC := ab[1] == 0 && trial%2 == 0
				g := newGemmCase(r, tr&1 != 0, tr&2 != 0, m, n, k, trial%5, 1+trial%7, ab[0], ab[1], nanC)
				if err := g.check(gemmGo); err != nil {
					t.Errorf("level %v (%s): %v", l, goKernelName(), err)
				}
			}
		}
		restore()
	}
}

// TestGemmGoBlockEdges covers products just around the block sizes in one
// dimension at a time, where a wrong block offset moves whole panels.
func TestGemmGoBlockEdges(t *testing.T) {
	if testing.Short() {
		t.Skip("large products")
	}
	r := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{7, 17, 511}, {7, 17, 513}, {289, 9, 20}, {433, 5, 3}, {6, 4081, 3}, {13, 4097, 2}, {145, 33, 257}}
	for _, l := range gemmLevels() {
		restore := cpu.SetLevel(l)
		for i, s := range shapes {
			g := newGemmCase(r, i%2 == 1, i%3 == 1, s[0], s[1], s[2], 2, i%8, 1.25, float32(i%2), false)
			if err := g.check(gemmGo); err != nil {
				t.Errorf("level %v: %v", l, err)
			}
		}
		restore()
	}
}

// FuzzGemm compares gemmGo with the float64 reference on shapes, strides,
// offsets, transposes and alpha/beta the fuzzer picks, at every kernel
// level this CPU runs.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(5), uint8(3), uint8(1), uint8(0), float32(1), float32(0), true, uint64(1))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint8(3), float32(0.5), float32(1), false, uint64(2))
	f.Add(uint8(200), uint8(33), uint8(255), uint8(1), uint8(7), uint8(2), float32(-2), float32(0.25), false, uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k, pad, off, trans uint8, alpha, beta float32, nanC bool, seed uint64) {
		if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) || math.Abs(float64(alpha)) > 1e3 ||
			math.IsNaN(float64(beta)) || math.IsInf(float64(beta), 0) || math.Abs(float64(beta)) > 1e3 {
			t.Skip("alpha and beta are finite scale factors here")
		}
		if beta != 0 {
			nanC = false
		}
		r := rand.New(rand.NewPCG(seed, 7))
		g := newGemmCase(r, trans&1 != 0, trans&2 != 0, int(m)+1, int(n)+1, int(k), int(pad%9), int(off%8), alpha, beta, nanC)
		for _, l := range gemmLevels() {
			restore := cpu.SetLevel(l)
			err := g.check(gemmGo)
			restore()
			if err != nil {
				t.Fatalf("level %v: %v", l, err)
			}
		}
	})
}
