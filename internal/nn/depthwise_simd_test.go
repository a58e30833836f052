package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/cpu"
)

// simdRows returns k rows of n random values in [-2, 2), some of them
// replaced by special values (±0, ±Inf and, when withNaN, NaN).
func simdRows(r *rand.Rand, k, n int, withNaN bool) [][]float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1))}
	if withNaN {
		special = append(special, float32(math.NaN()))
	}
	rows := make([][]float32, k)
	for i := range rows {
		rows[i] = make([]float32, n)
		for j := range rows[i] {
			rows[i][j] = 4*r.Float32() - 2
			if r.IntN(16) == 0 {
				rows[i][j] = special[r.IntN(len(special))]
			}
		}
	}
	return rows
}

// sameValue is bit equality, except that any two NaNs match and so do +0
// and -0 when signedZero is false.
func sameValue(a, b float32, signedZero bool) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	if !signedZero && a == 0 && b == 0 {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestSIMDRowKernelsMatchGo holds the assembly row kernels to the Go ones
// at lengths around the 8-value vectors: the depthwise rows (stride 1 and
// 2; each input row exactly as long as the Go kernel reads) bit for bit,
// the max-pool row up to the sign of a zero maximum, NaN for NaN.
func TestSIMDRowKernelsMatchGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no SIMD row kernels on this CPU or architecture")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 64, 207, 414} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in := simdRows(r, 3, n+2, false)
			var w [9]float32
			for i := range w {
				w[i] = 2*r.Float32() - 1
			}
			b := r.Float32()
			got, want := make([]float32, n), make([]float32, n)
			dw3s1Row(got, in[0], in[1], in[2], &w, b, true)
			dw3s1Row(want, in[0], in[1], in[2], &w, b, false)
			for i := range want {
				if !sameValue(got[i], want[i], true) {
					t.Fatalf("dw3s1Row[%d] = %v, Go gives %v", i, got[i], want[i])
				}
			}

			in2 := simdRows(r, 3, 2*n+1, false)
			dw3s2Row(got, in2[0], in2[1], in2[2], &w, b, true)
			dw3s2Row(want, in2[0], in2[1], in2[2], &w, b, false)
			for i := range want {
				if !sameValue(got[i], want[i], true) {
					t.Fatalf("dw3s2Row[%d] = %v, Go gives %v", i, got[i], want[i])
				}
			}

			pool := simdRows(r, 2, 2*n, true)
			maxPool2x2Values(append(pool[0], pool[1]...), 2*n, 1, n, got, true)
			maxPool2x2Values(append(pool[0], pool[1]...), 2*n, 1, n, want, false)
			for i := range want {
				if !sameValue(got[i], want[i], false) {
					t.Fatalf("maxPool2x2 row[%d] = %v, Go gives %v (window %v %v / %v %v)", i, got[i], want[i],
						pool[0][2*i], pool[0][2*i+1], pool[1][2*i], pool[1][2*i+1])
				}
			}
		})
	}
}

// TestSIMDMaxPoolNaNEachPosition puts a single NaN at each position of a
// row pair in turn: whatever lane and operand it lands in, its window's
// output must be NaN and no other.
func TestSIMDMaxPoolNaNEachPosition(t *testing.T) {
	const n = 16
	r := rand.New(rand.NewPCG(9, 10))
	base := simdRows(r, 1, 4*n, false)[0]
	out := make([]float32, n)
	for p := range base {
		x := append([]float32(nil), base...)
		x[p] = float32(math.NaN())
		maxPool2x2Values(x, 2*n, 1, n, out, cpu.HasAVX2FMA())
		win := (p % (2 * n)) / 2
		for i, v := range out {
			if (v != v) != (i == win) {
				t.Fatalf("NaN at %d: output %d = %v", p, i, v)
			}
		}
	}
}

// BenchmarkDepthwiseRow times one 3x3 stride-1 row of the face detector's
// second block (207 outputs).
func BenchmarkDepthwiseRow(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	in := simdRows(r, 3, 209, false)
	var w [9]float32
	d := make([]float32, 207)
	vec := cpu.HasAVX2FMA()
	for b.Loop() {
		dw3s1Row(d, in[0], in[1], in[2], &w, 1, vec)
	}
}
