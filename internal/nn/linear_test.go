package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

func TestLinearMatchesDirect(t *testing.T) {
	// Sizes above GemmParallel's threshold too, so the split path runs.
	for _, c := range []struct{ n, in, out int }{{1, 1, 1}, {3, 5, 4}, {32, 300, 70}, {5, 2000, 300}} {
		for _, bias := range []bool{true, false} {
			r := rand.New(rand.NewPCG(uint64(c.in), uint64(c.out)))
			l := NewLinear(c.in, c.out, bias, r)
			x := randTensor(r, c.n, c.in)
			y, err := l.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < c.n; i++ {
				for o := 0; o < c.out; o++ {
					s := 0.0
					if bias {
						s = float64(l.Bias.Value.Data[o])
					}
					for k := 0; k < c.in; k++ {
						s += float64(x.Data[i*c.in+k]) * float64(l.Weight.Value.Data[o*c.in+k])
					}
					if d := math.Abs(float64(y.Data[i*c.out+o]) - s); d > 1e-5*float64(c.in+1) {
						t.Fatalf("%v bias=%v: y[%d,%d] = %g, want %g", c, bias, i, o, y.Data[i*c.out+o], s)
					}
				}
			}
		}
	}
}

func TestLinearGradCheck(t *testing.T) {
	for _, bias := range []bool{true, false} {
		r := rand.New(rand.NewPCG(4, 5))
		l := NewLinear(7, 5, bias, r)
		gradCheck{}.run(t, l, randTensor(r, 3, 7))
	}
}

func TestLinearGradientsAccumulate(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	l := NewLinear(4, 3, true, r)
	l.SetTraining(true)
	x, dy := randTensor(r, 2, 4), randTensor(r, 2, 3)
	l.Forward(x)
	l.Backward(dy.Clone())
	once := append(l.Weight.Grad.Clone().Data, l.Bias.Grad.Data...)
	l.Forward(x)
	l.Backward(dy.Clone())
	twice := append(l.Weight.Grad.Clone().Data, l.Bias.Grad.Data...)
	for i := range once {
		if math.Abs(float64(twice[i]-2*once[i])) > 1e-6 {
			t.Fatalf("gradient %d: %g after two steps, %g after one; Backward must add, not overwrite", i, twice[i], once[i])
		}
	}
}

func TestLinearSkipsInputGradAndFrozen(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	l := NewLinear(6, 4, true, r)
	l.SetTraining(true)
	l.SetNeedInputGrad(false)
	x, dy := randTensor(r, 3, 6), randTensor(r, 3, 4)
	l.Forward(x)
	dx, err := l.Backward(dy)
	if err != nil || dx != nil {
		t.Fatalf("without input gradient: dx %v, err %v", dx, err)
	}
	// dbias is the column sums of dy.
	for o := 0; o < 4; o++ {
		want := dy.Data[o] + dy.Data[4+o] + dy.Data[8+o]
		if math.Abs(float64(l.Bias.Grad.Data[o]-want)) > 1e-6 {
			t.Errorf("dbias[%d] = %g, want %g", o, l.Bias.Grad.Data[o], want)
		}
	}
	ZeroGrad(l)
	l.Weight.Frozen = true
	l.Forward(x)
	l.Backward(dy)
	for _, v := range l.Weight.Grad.Data {
		if v != 0 {
			t.Fatal("a frozen weight received a gradient")
		}
	}
}

func TestLinearInitAndString(t *testing.T) {
	l := NewLinear(25088, 17, true, rand.New(rand.NewPCG(1, 2)))
	if got, want := l.String(), "Linear(in_features=25088, out_features=17, bias=True)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !tensor.ShapeEq(l.Weight.Value.Shape, []int{17, 25088}) || !tensor.ShapeEq(l.Bias.Value.Shape, []int{17}) {
		t.Errorf("shapes %v %v, want [17 25088] [17]", l.Weight.Value.Shape, l.Bias.Value.Shape)
	}
	b := 1 / math.Sqrt(25088)
	for _, p := range l.Params() {
		lo, hi := 0.0, 0.0
		for _, v := range p.Value.Data {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if lo < -b || hi > b {
			t.Errorf("%s outside ±%g: [%g, %g]", p.Name, b, lo, hi)
		}
		if p.Name == "weight" && (lo > -0.99*b || hi < 0.99*b) {
			t.Errorf("weight range [%g, %g] does not fill ±%g", lo, hi, b)
		}
	}
	if total, _ := CountParams(l); total != 25088*17+17 {
		t.Errorf("CountParams = %d", total)
	}
	if NewLinear(3, 2, false, rand.New(rand.NewPCG(1, 2))).String() != "Linear(in_features=3, out_features=2, bias=False)" {
		t.Error("String() without bias")
	}
}

func TestLinearErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewLinear(8, 3, true, r)
	if _, err := l.Backward(tensor.New(2, 3)); err == nil {
		t.Error("Backward before Forward succeeded")
	}
	refusesShapes(t, l, [][]int{{2, 7}, {2, 2, 4}, {8}}, "[N, 8]")
	l.SetTraining(false)
	l.Forward(tensor.New(2, 8))
	if _, err := l.Backward(tensor.New(2, 3)); err == nil {
		t.Error("Backward after an eval-mode Forward succeeded")
	}
	l.SetTraining(true)
	l.Forward(tensor.New(2, 8))
	if _, err := l.Backward(tensor.New(3, 3)); err == nil {
		t.Error("Backward with a wrongly shaped gradient succeeded")
	}
}
