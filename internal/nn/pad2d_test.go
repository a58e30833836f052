package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"starid/internal/tensor"
)

// naivePad is the definition: out[y][x] = in[y-top][x-left] inside, value
// elsewhere.
func naivePad(x *tensor.Tensor, l, r, tp, b int, v float32) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := h+tp+b, w+l+r
	out := make([]float32, n*c*oh*ow)
	for pl := 0; pl < n*c; pl++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				iy, ix := y-tp, xx-l
				val := v
				if iy >= 0 && iy < h && ix >= 0 && ix < w {
					val = x.Data[(pl*h+iy)*w+ix]
				}
				out[(pl*oh+y)*ow+xx] = val
			}
		}
	}
	return out
}

func TestConstantPad2dMatchesDefinition(t *testing.T) {
	negInf := float32(math.Inf(-1))
	cases := []struct {
		shape       []int
		l, r, tp, b int
		v           float32
	}{
		{[]int{2, 3, 4, 5}, 0, 1, 0, 1, negInf},
		{[]int{1, 2, 3, 3}, 1, 1, 1, 1, 0},
		{[]int{1, 1, 1, 1}, 2, 0, 3, 1, 0.5},
		{[]int{3, 2, 5, 2}, 0, 0, 0, 0, 7},
		{[]int{1, 4, 6, 7}, 3, 2, 1, 4, -2},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc), func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 3))
			p := NewConstantPad2d(tc.l, tc.r, tc.tp, tc.b, tc.v)
			p.SetTraining(true)
			x := randTensor(r, tc.shape...)
			y, err := p.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			want := []int{tc.shape[0], tc.shape[1], tc.shape[2] + tc.tp + tc.b, tc.shape[3] + tc.l + tc.r}
			if !tensor.ShapeEq(y.Shape, want) {
				t.Fatalf("shape %v, want %v", y.Shape, want)
			}
			if !tensor.SameBits(y.Data, naivePad(x, tc.l, tc.r, tc.tp, tc.b, tc.v)) {
				t.Fatal("forward differs from the definition")
			}
			// The input gradient is the interior of dy: padding dy's
			// interior again with zeros must give dy with a zero border.
			dy := randTensor(r, y.Shape...)
			dx, err := p.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEq(dx.Shape, x.Shape) {
				t.Fatalf("dx shape %v", dx.Shape)
			}
			inner := naivePad(dx, tc.l, tc.r, tc.tp, tc.b, 0)
			border := naivePad(tensor.New(x.Shape...), tc.l, tc.r, tc.tp, tc.b, 1)
			for i := range inner {
				if border[i] == 0 && inner[i] != dy.Data[i] {
					t.Fatalf("dx does not hold dy's interior at output %d", i)
				}
			}
		})
	}
}

func TestConstantPad2dGradCheck(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	gradCheck{}.run(t, NewConstantPad2d(2, 1, 0, 3, 0.25), randTensor(r, 2, 3, 3, 5))
}

func TestConstantPad2dMatchesPyTorch(t *testing.T) {
	ref := loadDepthwiseReference(t)
	for _, c := range ref.Pad {
		t.Run(c.Name, func(t *testing.T) {
			v, err := strconv.ParseFloat(c.Value, 32)
			if err != nil {
				t.Fatal(err)
			}
			p := NewConstantPad2d(c.Padding[0], c.Padding[1], c.Padding[2], c.Padding[3], float32(v))
			if p.String() != c.Repr {
				t.Errorf("String() = %q, PyTorch prints %q", p.String(), c.Repr)
			}
			p.SetTraining(true)
			x := tensor.FromData(c.X, c.Shape...)
			y, err := p.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEq(y.Shape, c.YShape) {
				t.Fatalf("shape %v, PyTorch %v", y.Shape, c.YShape)
			}
			dx, err := p.Backward(tensor.FromData(c.Dy, c.YShape...))
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameBits(dx.Data, c.Dx) {
				t.Fatal("dx differs from PyTorch")
			}
		})
	}
}

func TestConstantPad2dStringAndErrors(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		want string
	}{
		{0, "ConstantPad2d(padding=(0, 1, 0, 1), value=0)"},
		{float32(math.Inf(-1)), "ConstantPad2d(padding=(0, 1, 0, 1), value=-inf)"},
		{0.1, "ConstantPad2d(padding=(0, 1, 0, 1), value=0.1)"},
	} {
		if got := NewConstantPad2d(0, 1, 0, 1, tc.v).String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	p := NewConstantPad2d(1, 1, 1, 1, 0)
	if p.Params() != nil {
		t.Error("padding has parameters")
	}
	if _, err := p.Forward(tensor.New(3, 4, 5)); err == nil {
		t.Error("3-D input accepted")
	}
	if _, err := p.Backward(tensor.New(1, 1, 3, 3)); err == nil {
		t.Error("Backward without Forward succeeded")
	}
	p.SetTraining(true)
	if _, err := p.Forward(tensor.New(1, 1, 2, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Backward(tensor.New(1, 1, 3, 3)); err == nil {
		t.Error("gradient of the wrong shape accepted")
	}
	defer func() {
		if recover() == nil {
			t.Error("negative padding did not panic")
		}
	}()
	NewConstantPad2d(-1, 0, 0, 0, 0)
}
