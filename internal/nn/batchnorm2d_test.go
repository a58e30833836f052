package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// bnReference is testdata/bn_reference.json, written by testdata/gen_bn.py
// with PyTorch 1.13.
type bnReference struct {
	Cases []struct {
		Name         string
		Shape        []int
		Eps          float64
		Momentum     float64
		Weight, Bias []float32
		Steps        []struct {
			bnPass
			RunningMean       []float32 `json:"running_mean"`
			RunningVar        []float32 `json:"running_var"`
			NumBatchesTracked int       `json:"num_batches_tracked"`
		}
		Eval bnPass
	}
}

type bnPass struct {
	X, Dy, Y, Dx   []float32
	Dweight, Dbias []float32
}

// closeTo fails when got and want differ by more than atol+rtol*|want| anywhere.
func closeTo(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= atol+rtol*math.Abs(float64(want[i]))) {
			t.Errorf("%s[%d] = %.7g, want %.7g", what, i, got[i], want[i])
			return
		}
	}
}

func TestBatchNorm2dMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/bn_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref bnReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) == 0 {
		t.Fatal("no cases in bn_reference.json")
	}
	const atol, rtol = 2e-5, 2e-5
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			l := NewBatchNorm2d(c.Shape[1])
			l.Eps, l.Momentum = c.Eps, c.Momentum
			copy(l.Weight.Value.Data, c.Weight)
			copy(l.Bias.Value.Data, c.Bias)
			check := func(step string, p bnPass) {
				t.Helper()
				ZeroGrad(l)
				y, err := l.Forward(tensor.FromData(append([]float32(nil), p.X...), c.Shape...))
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, step+" y", y.Data, p.Y, atol, rtol)
				dx, err := l.Backward(tensor.FromData(append([]float32(nil), p.Dy...), c.Shape...))
				if err != nil {
					t.Fatal(err)
				}
				closeTo(t, step+" dx", dx.Data, p.Dx, atol, rtol)
				closeTo(t, step+" dweight", l.Weight.Grad.Data, p.Dweight, 1e-4, rtol)
				closeTo(t, step+" dbias", l.Bias.Grad.Data, p.Dbias, 1e-4, rtol)
			}
			l.SetTraining(true)
			for i, s := range c.Steps {
				step := "train step " + string(rune('1'+i))
				check(step, s.bnPass)
				closeTo(t, step+" running_mean", l.RunningMean.Value.Data, s.RunningMean, 1e-6, 1e-6)
				closeTo(t, step+" running_var", l.RunningVar.Value.Data, s.RunningVar, 1e-6, 1e-6)
				if got := l.NumBatchesTracked.Value.Data[0]; got != float32(s.NumBatchesTracked) {
					t.Errorf("%s: num_batches_tracked %g, want %d", step, got, s.NumBatchesTracked)
				}
			}
			l.SetTraining(false)
			mean := append([]float32(nil), l.RunningMean.Value.Data...)
			check("eval", c.Eval)
			closeTo(t, "running_mean after eval", l.RunningMean.Value.Data, mean, 0, 0)
			if got := l.NumBatchesTracked.Value.Data[0]; got != float32(len(c.Steps)) {
				t.Errorf("eval forward changed num_batches_tracked to %g", got)
			}
		})
	}
}

// evalOnly pins a layer in evaluation mode, so gradCheck (which switches
// layers to training) can check the frozen-statistics gradient.
type evalOnly struct{ Layer }

func (e evalOnly) SetTraining(bool) { e.Layer.SetTraining(false) }

func TestBatchNorm2dGradCheck(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		eval  bool
	}{
		{"train odd sizes", []int{3, 2, 5, 7}, false},
		{"train single image", []int{1, 3, 4, 5}, false},
		{"train 1x1 planes", []int{6, 2, 1, 1}, false},
		{"eval", []int{2, 3, 3, 4}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(len(c.name))))
			l := NewBatchNorm2d(c.shape[1])
			for ch := 0; ch < c.shape[1]; ch++ {
				l.Weight.Value.Data[ch] = float32(0.5 + r.Float64())
				l.Bias.Value.Data[ch] = float32(r.NormFloat64())
				l.RunningMean.Value.Data[ch] = float32(r.NormFloat64())
				l.RunningVar.Value.Data[ch] = float32(0.5 + r.Float64())
			}
			x := randTensor(r, c.shape...)
			for i := range x.Data {
				x.Data[i] = 2*x.Data[i] + 1
			}
			var layer Layer = l
			if c.eval {
				layer = evalOnly{l}
			}
			gradCheck{}.run(t, layer, x)
		})
	}
}

// TestBatchNorm2dLargeMean checks the one-pass variance against a two-pass
// float64 reference on data whose mean dwarfs its spread, where a float32
// sum of squares would cancel to nothing.
func TestBatchNorm2dLargeMean(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randTensor(r, 4, 2, 9, 11)
	for i := range x.Data {
		x.Data[i] = 300 + 0.05*x.Data[i]
	}
	l := NewBatchNorm2d(2)
	l.SetTraining(true)
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	n, c, hw := 4, 2, 99
	for ch := 0; ch < c; ch++ {
		var vals []float64
		for i := 0; i < n; i++ {
			for _, v := range x.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				vals = append(vals, float64(v))
			}
		}
		mean := 0.0
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		v2 := 0.0
		for _, v := range vals {
			v2 += (v - mean) * (v - mean)
		}
		v2 /= float64(len(vals))
		k := 0
		for i := 0; i < n; i++ {
			for j, got := range y.Data[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				want := (float64(x.Data[(i*c+ch)*hw+j]) - mean) / math.Sqrt(v2+1e-5)
				if math.Abs(float64(got)-want) > 2e-3 {
					t.Fatalf("channel %d value %d: %g, want %g", ch, k, got, want)
				}
				k++
			}
		}
	}
}

func TestBatchNorm2dStateAndString(t *testing.T) {
	l := NewBatchNorm2d(64)
	if got, want := l.String(), "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var names []string
	for _, e := range StateDict(NewNamedSequential([]string{"bn"}, []Layer{l})) {
		names = append(names, e.Name)
	}
	if got, want := strings.Join(names, " "), "bn.weight bn.bias bn.running_mean bn.running_var bn.num_batches_tracked"; got != want {
		t.Errorf("state_dict names %q, want %q", got, want)
	}
	for _, c := range []struct {
		p     *Param
		v     float32
		shape []int
	}{{l.Weight, 1, []int{64}}, {l.Bias, 0, []int{64}}, {l.RunningMean, 0, []int{64}}, {l.RunningVar, 1, []int{64}}, {l.NumBatchesTracked, 0, []int{}}} {
		if !tensor.ShapeEq(c.p.Value.Shape, c.shape) || len(c.p.Value.Data) != max(tensor.Numel(c.shape), 1) {
			t.Errorf("%s: shape %v with %d values, want %v", c.p.Name, c.p.Value.Shape, len(c.p.Value.Data), c.shape)
		}
		for _, v := range c.p.Value.Data {
			if v != c.v {
				t.Errorf("%s starts at %g, want %g", c.p.Name, v, c.v)
				break
			}
		}
	}
	if !l.NumBatchesTracked.Int64 || l.NumBatchesTracked.Grad != nil || l.RunningMean.Grad != nil {
		t.Error("num_batches_tracked must be an int64 buffer; buffers have no gradient")
	}
	if total, _ := CountParams(l); total != 128 {
		t.Errorf("CountParams = %d, want 128 (buffers are not parameters)", total)
	}
}

func TestBatchNorm2dErrors(t *testing.T) {
	l := NewBatchNorm2d(3)
	if _, err := l.Backward(tensor.New(2, 3, 2, 2)); err == nil {
		t.Error("Backward before Forward succeeded")
	}
	refusesShapes(t, l, [][]int{{2, 3, 4}, {2, 4, 5, 5}, {2, 3, 4, 4, 1}}, "[N, 3, H, W]")
	l.SetTraining(true)
	if _, err := l.Forward(tensor.New(1, 3, 1, 1)); err == nil {
		t.Error("training on one value per channel succeeded")
	}
	l.SetTraining(false)
	if _, err := l.Forward(tensor.New(1, 3, 1, 1)); err != nil {
		t.Errorf("eval on one value per channel: %v", err)
	}
	if _, err := l.Backward(tensor.New(1, 3, 1, 2)); err == nil {
		t.Error("Backward with a wrongly shaped gradient succeeded")
	}
}
