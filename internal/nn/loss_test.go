package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

func TestCrossEntropyHandComputed(t *testing.T) {
	// Row 0: log(e^1+e^2+e^3) - 3 = log(1 + e^-1 + e^-2) = 0.4076059644.
	// Row 1: equal logits, loss log 3 = 1.0986122887. Mean 0.7531091265.
	logits := tensor.FromData([]float32{1, 2, 3, 1, 1, 1}, 2, 3)
	loss, d, err := CrossEntropy(logits, []int{2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-0.7531091265) > 1e-7 {
		t.Errorf("loss %.10f, want 0.7531091265", loss)
	}
	// (softmax - onehot)/N; softmax(1,2,3) = (0.0900306, 0.2447285, 0.6652410).
	want := []float32{0.0450153, 0.1223642, (0.6652410 - 1) / 2, (1.0/3 - 1) / 2, 1.0 / 6, 1.0 / 6}
	if diff := tensor.MaxAbsDiff(d.Data, want); diff > 1e-6 {
		t.Errorf("dlogits %v, want %v", d.Data, want)
	}
}

func TestCrossEntropyStable(t *testing.T) {
	for _, c := range []struct {
		logits []float32
		label  int
		want   float64
	}{
		{[]float32{1000, 0}, 0, 0},
		{[]float32{1000, 0}, 1, 1000},
		{[]float32{-1000, -1000}, 1, math.Ln2},
		{[]float32{88, 89, 90}, 2, 0.4076059644},
	} {
		loss, d, err := CrossEntropy(tensor.FromData(c.logits, 1, len(c.logits)), []int{c.label})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(loss-c.want) > 1e-6*max(1, c.want) {
			t.Errorf("logits %v label %d: loss %g, want %g", c.logits, c.label, loss, c.want)
		}
		for _, g := range d.Data {
			if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
				t.Errorf("logits %v: gradient %v", c.logits, d.Data)
			}
		}
	}
}

func TestCrossEntropyGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := randTensor(r, 4, 5)
	labels := []int{0, 4, 2, 2}
	_, d, err := CrossEntropy(logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	const eps = 1e-2
	for i := range logits.Data {
		orig := logits.Data[i]
		logits.Data[i] = orig + eps
		up, _, _ := CrossEntropy(logits, labels)
		logits.Data[i] = orig - eps
		down, _, _ := CrossEntropy(logits, labels)
		logits.Data[i] = orig
		num := (up - down) / (2 * eps)
		if math.Abs(num-float64(d.Data[i])) > 1e-4 {
			t.Errorf("dlogits[%d] = %g, finite difference %g", i, d.Data[i], num)
		}
	}
}

func TestCrossEntropyErrors(t *testing.T) {
	logits := tensor.New(2, 3)
	for _, c := range []struct {
		name   string
		logits *tensor.Tensor
		labels []int
	}{
		{"label too large", logits, []int{0, 3}},
		{"negative label", logits, []int{-1, 0}},
		{"too few labels", logits, []int{0}},
		{"too many labels", logits, []int{0, 1, 2}},
		{"rank 1", tensor.New(3), []int{0}},
		{"empty batch", tensor.New(0, 3), nil},
	} {
		if _, _, err := CrossEntropy(c.logits, c.labels); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestSoftmax(t *testing.T) {
	x := tensor.FromData([]float32{1, 2, 3, -1000, 0, 1000, 5, 5, 5}, 3, 3)
	p := Softmax(x)
	want := []float32{0.0900306, 0.2447285, 0.6652410, 0, 0, 1, 1.0 / 3, 1.0 / 3, 1.0 / 3}
	if d := tensor.MaxAbsDiff(p.Data, want); d > 1e-6 || !tensor.ShapeEq(p.Shape, x.Shape) {
		t.Errorf("Softmax = %v %v, want %v", p.Shape, p.Data, want)
	}
	if x.Data[0] != 1 {
		t.Error("Softmax changed its input")
	}
}

func ExampleCrossEntropy() {
	// Two samples, three classes; the first is confidently right, the
	// second undecided.
	logits := tensor.FromData([]float32{4, 0, 0, 1, 1, 1}, 2, 3)
	loss, dlogits, err := CrossEntropy(logits, []int{0, 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.4f\n", loss)
	fmt.Printf("dlogits %.4f\n", dlogits.Data)
	fmt.Printf("probabilities %.4f\n", Softmax(logits).Data)
	// Output:
	// loss 0.5673
	// dlogits [-0.0177 0.0088 0.0088 0.1667 0.1667 -0.3333]
	// probabilities [0.9647 0.0177 0.0177 0.3333 0.3333 0.3333]
}
