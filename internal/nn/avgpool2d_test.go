package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// naiveAvgPool is the definition with count_include_pad=True, in float64.
func naiveAvgPool(x *tensor.Tensor, k, s, p int) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	var out []float32
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				sum := 0.0
				for ki := 0; ki < k; ki++ {
					for kj := 0; kj < k; kj++ {
						iy, ix := oy*s-p+ki, ox*s-p+kj
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							sum += float64(x.Data[(pl*h+iy)*w+ix])
						}
					}
				}
				out = append(out, float32(sum/float64(k*k)))
			}
		}
	}
	return out
}

func TestAvgPool2dForwardAndGradients(t *testing.T) {
	eachWindowCase(t, poolCases, func(t *testing.T, tc windowCase) {
		l := NewAvgPool2d(tc.k, tc.s, tc.p)
		x, y := forwardPool(t, tc, rand.New(rand.NewPCG(4, uint64(tc.h))), l)
		if d := tensor.MaxAbsDiff(y.Data, naiveAvgPool(x, tc.k, tc.s, tc.p)); d > 1e-6 {
			t.Fatalf("forward differs by %g", d)
		}
		gradCheck{}.run(t, l, x)
	})
}

func TestAvgPool2dCountsPadding(t *testing.T) {
	// count_include_pad=True: a corner window of a 3x3 kernel with
	// padding 1 sees 4 ones and 5 zeros and divides by 9, not 4.
	x := tensor.New(1, 1, 3, 3)
	x.Fill(1)
	y, err := NewAvgPool2d(3, 1, 1).Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4. / 9, 6. / 9, 4. / 9, 6. / 9, 1, 6. / 9, 4. / 9, 6. / 9, 4. / 9}
	if d := tensor.MaxAbsDiff(y.Data, want); d > 1e-6 {
		t.Errorf("got %v, want %v", y.Data, want)
	}
}

func TestAvgPool2dErrorsAndString(t *testing.T) {
	l := NewAvgPool2d(2, 2, 0)
	if got, want := l.String(), "AvgPool2d(kernel_size=2, stride=2, padding=0)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	poolLayerErrors(t, l, [][]int{{2, 4, 4}, {1, 1, 1, 4}, {1, 1, 4, 1}, {0, 1, 4, 4}}, []int{2, 3, 4, 5})
}

// naiveAdaptive computes each bin from the floating-point form of
// PyTorch's rule, independently of the layer's integer arithmetic.
func naiveAdaptive(x *tensor.Tensor, oh, ow int) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	var out []float32
	for pl := 0; pl < n*c; pl++ {
		for i := 0; i < oh; i++ {
			y0, y1 := int(math.Floor(float64(i*h)/float64(oh))), int(math.Ceil(float64((i+1)*h)/float64(oh)))
			for j := 0; j < ow; j++ {
				x0, x1 := int(math.Floor(float64(j*w)/float64(ow))), int(math.Ceil(float64((j+1)*w)/float64(ow)))
				sum := 0.0
				for y := y0; y < y1; y++ {
					for xx := x0; xx < x1; xx++ {
						sum += float64(x.Data[(pl*h+y)*w+xx])
					}
				}
				out = append(out, float32(sum/float64((y1-y0)*(x1-x0))))
			}
		}
	}
	return out
}

func TestAdaptiveAvgPool2d(t *testing.T) {
	for _, tc := range []struct {
		name           string
		n, c, h, w     int
		oh, ow         int
		wantOverlapped bool
	}{
		{"smaller input than output (64x64 VGG)", 2, 3, 2, 2, 7, 7, true},
		{"equal (224x224 VGG, identity)", 2, 3, 7, 7, 7, 7, false},
		{"not divisible", 1, 2, 10, 9, 4, 3, true},
		{"divisible", 3, 2, 8, 6, 4, 3, false},
		{"global average", 2, 4, 5, 3, 1, 1, false},
		{"one row up, columns down", 1, 2, 3, 11, 5, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(6, uint64(tc.h)))
			x := randTensor(r, tc.n, tc.c, tc.h, tc.w)
			l := NewAdaptiveAvgPool2d(tc.oh, tc.ow)
			y, err := l.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEq(y.Shape, []int{tc.n, tc.c, tc.oh, tc.ow}) {
				t.Fatalf("shape %v", y.Shape)
			}
			if d := tensor.MaxAbsDiff(y.Data, naiveAdaptive(x, tc.oh, tc.ow)); d > 1e-6 {
				t.Fatalf("forward differs by %g", d)
			}
			gradCheck{}.run(t, l, x)
		})
	}
}

func TestAdaptiveAvgPool2dKnownValues(t *testing.T) {
	// 2x2 -> 7x7: rows and columns 0-2 copy input row/column 0, 3 averages
	// both, 4-6 copy 1.
	x := tensor.FromData([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	y, err := NewAdaptiveAvgPool2d(7, 7).Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	at := func(i, j int) float32 { return y.Data[i*7+j] }
	if at(0, 0) != 1 || at(2, 6) != 2 || at(3, 3) != 2.5 || at(6, 0) != 3 || at(6, 6) != 4 || at(3, 0) != 2 {
		t.Errorf("unexpected 7x7 map %v", y.Data)
	}
}

func TestAdaptiveAvgPool2dIdentityCopiesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, 2, 512, 7, 7)
	l := NewAdaptiveAvgPool2d(7, 7)
	l.SetTraining(true)
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if &y.Data[0] != &x.Data[0] {
		t.Error("identity Forward copied its input")
	}
	dy := randTensor(r, 2, 512, 7, 7)
	dx, err := l.Backward(dy)
	if err != nil {
		t.Fatal(err)
	}
	if &dx.Data[0] != &dy.Data[0] || !tensor.ShapeEq(dx.Shape, x.Shape) {
		t.Error("identity Backward copied its gradient or lost the shape")
	}
}

func TestAdaptiveAvgPool2dErrorsAndString(t *testing.T) {
	l := NewAdaptiveAvgPool2d(7, 7)
	if got, want := l.String(), "AdaptiveAvgPool2d(output_size=(7, 7))"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	poolLayerErrors(t, l, [][]int{{512, 7, 7}, {1, 512, 0, 7}, {1, 0, 7, 7}}, []int{2, 3, 4, 5})
}
