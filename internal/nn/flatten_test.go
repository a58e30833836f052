package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/tensor"
)

func TestFlattenShapesAndView(t *testing.T) {
	for _, c := range []struct{ in, out []int }{
		{[]int{2, 3, 4, 5}, []int{2, 60}},
		{[]int{7, 9}, []int{7, 9}},
		{[]int{1, 512, 7, 7}, []int{1, 25088}},
		{[]int{3, 2, 1, 4, 2}, []int{3, 16}},
	} {
		l := NewFlatten()
		x := randTensor(rand.New(rand.NewPCG(1, 2)), c.in...)
		y, err := l.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.ShapeEq(y.Shape, c.out) {
			t.Errorf("%v flattens to %v, want %v", c.in, y.Shape, c.out)
		}
		if s, _ := l.OutputShape(c.in); !tensor.ShapeEq(s, c.out) {
			t.Errorf("OutputShape(%v) = %v, want %v", c.in, s, c.out)
		}
		if &y.Data[0] != &x.Data[0] || len(y.Data) != len(x.Data) {
			t.Error("output is not a view of the input")
		}
		dy := randTensor(rand.New(rand.NewPCG(3, 4)), c.out...)
		dx, err := l.Backward(dy)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.ShapeEq(dx.Shape, c.in) || &dx.Data[0] != &dy.Data[0] {
			t.Errorf("gradient shape %v, want a view of dy shaped %v", dx.Shape, c.in)
		}
	}
}

func TestFlattenGradCheck(t *testing.T) {
	gradCheck{}.run(t, NewFlatten(), randTensor(rand.New(rand.NewPCG(5, 6)), 3, 2, 3, 5))
}

func TestFlattenErrors(t *testing.T) {
	l := NewFlatten()
	if l.String() != "Flatten(start_dim=1, end_dim=-1)" {
		t.Errorf("String() = %q", l.String())
	}
	if _, err := l.Backward(tensor.New(2, 3)); err == nil {
		t.Error("Backward before Forward succeeded")
	}
	_, err := l.Forward(tensor.New(5))
	if err == nil || !strings.Contains(err.Error(), "Flatten(") || !strings.Contains(err.Error(), "[5]") {
		t.Errorf("rank-1 input: error %v should name the layer and the shape", err)
	}
	if _, err := l.Forward(tensor.New(2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(tensor.New(2, 3, 4)); err == nil {
		t.Error("Backward with the input's shape instead of the output's succeeded")
	}
}

func TestIdentity(t *testing.T) {
	l := NewIdentity()
	if l.String() != "Identity()" {
		t.Errorf("String() = %q", l.String())
	}
	x := tensor.New(2, 3)
	if y, err := l.Forward(x); err != nil || y != x {
		t.Error("Forward did not return its input")
	}
	if dx, err := l.Backward(x); err != nil || dx != x {
		t.Error("Backward did not return dy")
	}
	if s, err := l.OutputShape([]int{4, 5, 6}); err != nil || !tensor.ShapeEq(s, []int{4, 5, 6}) {
		t.Errorf("OutputShape = %v, %v", s, err)
	}
	gradCheck{}.run(t, l, randTensor(rand.New(rand.NewPCG(1, 1)), 3, 4))
}
