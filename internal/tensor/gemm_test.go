package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop in float64: the ground truth both
// backends are held to.
func naiveGemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*ldc+j]))
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestGemmBackendsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	impls := map[string]gemmFunc{"Gemm(" + Backend + ")": Gemm, "GemmParallel": GemmParallel, "gemmGo": gemmGo, "gemmBackend": gemmBackend}
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 300, 27}, {130, 70, 576}, {5, 2000, 64}, {600, 3, 40}}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				// Leading dimensions larger than the rows, as when a layer
				// works on a column block of a bigger matrix.
				lda, ldb, ldc := k+3, n+2, n+1
				if ta {
					lda = m + 3
				}
				if tb {
					ldb = k + 2
				}
				ar, br := m, k
				if ta {
					ar = k
				}
				if tb {
					br = n
				}
				a := randSlice(r, ar*lda)
				b := randSlice(r, br*ldb)
				c0 := randSlice(r, m*ldc)
				want := append([]float32(nil), c0...)
				naiveGemm(ta, tb, m, n, k, 0.7, a, lda, b, ldb, 0.3, want, ldc)
				for name, f := range impls {
					got := append([]float32(nil), c0...)
					f(ta, tb, m, n, k, 0.7, a, lda, b, ldb, 0.3, got, ldc)
					tol := 1e-5 * float64(k+1) * 4
					if d := MaxAbsDiff(got, want); d > tol {
						t.Errorf("%s m=%d n=%d k=%d ta=%v tb=%v: max diff %g > %g", name, m, n, k, ta, tb, d, tol)
					}
				}
			}
		}
	}
}

func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	// BLAS semantics: with beta=0, C is overwritten, never read, so stale
	// NaNs in a reused buffer cannot leak into results.
	a := []float32{1, 2, 3, 4}
	b := []float32{1, 0, 0, 1}
	nan := float32(0)
	nan = nan / nan
	c := []float32{nan, nan, nan, nan}
	Gemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	if MaxAbsDiff(c, a) != 0 {
		t.Fatalf("got %v want %v", c, a)
	}
}

func TestGemmBadSizesPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("expected a panic for a too-short A")
		}
	}()
	Gemm(false, false, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
}

// gemmBenchShapes are products starid runs (m x n x k, then transA and
// transB): VGG16 layers at 224x224 (conv1_2 64 x 50176 x 576; conv4 512 x
// 784 x 4608), a square reference, the face descriptor's convolutions at
// 150x150 (stem, conv32 at 36x36, conv64 at 18x18, conv128 at 9x9,
// conv256 at 5x5), and the backward products of a vgg16-bn-dropout-light
// training step at 64x64: the input gradient (transposed A, k = output
// channels) of conv1_2 and of a 256-channel layer, and conv1_2's weight
// gradient (transposed B). Then the Winograd transform-domain products of
// the 64-channel layers (one of 36 per work item: cout x tiles x cin) at
// 512 and 1024 tiles, and the 512-channel one at 64 tiles.
var gemmBenchShapes = []struct {
	m, n, k        int
	transA, transB bool
}{
	{64, 50176, 576, false, false}, {512, 784, 4608, false, false}, {1024, 1024, 1024, false, false},
	{32, 5184, 147, false, false}, {32, 1296, 288, false, false}, {64, 324, 576, false, false},
	{128, 81, 1152, false, false}, {256, 25, 2304, false, false},
	{576, 4096, 64, true, false}, {2304, 256, 256, true, false}, {64, 576, 4096, false, true},
	{64, 512, 64, false, false}, {64, 1024, 64, false, false}, {128, 512, 64, false, false},
	{512, 64, 512, false, false},
}

// gemmBenchBackends are the GEMMs compiled in: OpenBLAS (cgo build) and
// ours, so one run of the cgo build measures both side by side.
func gemmBenchBackends() map[string]gemmFunc {
	bk := map[string]gemmFunc{"go": gemmGo}
	if Backend != "go" {
		bk[Backend] = gemmBackend
	}
	return bk
}

// BenchmarkGemm reports GFLOP/s (wall and per CPU second) per shape,
// backend, and mode: "single" is
// one call on one goroutine (how convolutions call Gemm from each
// worker), "parallel" the product split over Workers() (GemmParallel).
func BenchmarkGemm(b *testing.B) {
	for _, sh := range gemmBenchShapes {
		m, n, k, ta, tb := sh.m, sh.n, sh.k, sh.transA, sh.transB
		lda, ldb := k, n
		if ta {
			lda = m
		}
		if tb {
			ldb = k
		}
		r := rand.New(rand.NewPCG(1, 2))
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		shape := itoa(m) + "x" + itoa(n) + "x" + itoa(k) + map[[2]bool]string{{true, false}: "TN", {false, true}: "NT"}[[2]bool{ta, tb}]
		for name, f := range gemmBenchBackends() {
			for _, mode := range []string{"single", "parallel"} {
				b.Run(name+"/"+shape+"/"+mode, func(b *testing.B) {
					cpu0 := processCPU()
					for i := 0; i < b.N; i++ {
						if mode == "single" {
							f(ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
						} else {
							gemmParallel(f, ta, tb, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
						}
					}
					flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					// Per CPU second: on a shared machine other jobs stretch
					// wall time far more than the CPU time we use.
					b.ReportMetric(flops/(processCPU()-cpu0).Seconds()/1e9, "GFLOP/cpu-s")
				})
			}
		}
	}
}

func itoa(i int) string {
	s := ""
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestSameBits(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	for _, c := range []struct {
		a, b []float32
		want bool
	}{
		{[]float32{1, 2}, []float32{1, 2}, true},
		{[]float32{0}, []float32{negZero}, false},
		{[]float32{nan}, []float32{nan}, true},
		{[]float32{1}, []float32{1, 2}, false},
		{[]float32{1, 2}, []float32{1, 2.0000002}, false},
	} {
		if got := SameBits(c.a, c.b); got != c.want {
			t.Errorf("SameBits(%v, %v) = %v", c.a, c.b, got)
		}
	}
}
