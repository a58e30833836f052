package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPool2dEvalMatchesDefinition checks the evaluation kernels, which
// skip the argmax and take other code paths (2x2 stride 2, 2x2 stride 1,
// general), against the definition on every pooling case, and that a NaN
// anywhere in a window gives NaN as in training.
func TestMaxPool2dEvalMatchesDefinition(t *testing.T) {
	// poolCases plus the 3x3 stride-2 kernel at odd and even sizes.
	cases := append(poolCases[:len(poolCases):len(poolCases)],
		windowCase{1, 2, 9, 11, 3, 2, 0},
		windowCase{2, 1, 8, 10, 3, 2, 0},
		windowCase{1, 1, 3, 3, 3, 2, 0})
	eachWindowCase(t, cases, func(t *testing.T, tc windowCase) {
		l, x, _, _ := maxPoolMatches(t, tc, rand.New(rand.NewPCG(4, uint64(tc.k))), false)
		// A NaN at each window position in turn of the first
		// output's window must reach that output.
		for ky := range tc.k {
			for kx := range tc.k {
				iy, ix := ky-tc.p, kx-tc.p
				if iy < 0 || ix < 0 || iy >= tc.h || ix >= tc.w {
					continue
				}
				xn := x.Clone()
				xn.Data[iy*tc.w+ix] = float32(math.NaN())
				y, err := l.Forward(xn)
				if err != nil {
					t.Fatal(err)
				}
				if v := y.Data[0]; v == v {
					t.Fatalf("NaN at window position (%d, %d) gave %v", ky, kx, v)
				}
			}
		}
	})
}

// BenchmarkMaxPool2dEval times the evaluation kernels on the face
// detector's largest poolings (2x2 stride 2 on 16x414x414, 2x2 stride 1 on
// 512x14x14) and the recognizer's 3x3 stride 2.
func BenchmarkMaxPool2dEval(b *testing.B) {
	for _, bc := range []struct{ c, h, k, s int }{{16, 414, 2, 2}, {512, 14, 2, 1}, {32, 72, 3, 2}} {
		b.Run(fmt.Sprintf("c=%d,h=%d,k=%d,s=%d", bc.c, bc.h, bc.k, bc.s), func(b *testing.B) {
			x := randTensor(rand.New(rand.NewPCG(1, 2)), 1, bc.c, bc.h, bc.h)
			l := NewMaxPool2d(bc.k, bc.s, 0)
			l.SetTraining(false)
			for b.Loop() {
				if _, err := l.Forward(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
