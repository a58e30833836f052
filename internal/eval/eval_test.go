package eval

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// The worked example. Logits are the natural logs of the probabilities, so
// softmax gives the probabilities back and each sample's loss is -ln p(true).
//
//	#  true  probs (A, B, C)   pred        -ln p(true)
//	1  A     .7  .2  .1        A           -ln .7
//	2  A     .5  .3  .2        A           -ln .5
//	3  A     .2  .6  .2        B           -ln .2
//	4  B     .1  .8  .1        B           -ln .8
//	5  B     .2  .3  .5        C           -ln .3
//	6  C     .4  .4  .2        A (tie: lower index wins)   -ln .2
//
// Confusion (rows true, columns predicted):
//
//	A: 2 1 0
//	B: 0 1 1
//	C: 1 0 0
//
// Accuracy 3/6 = 0.5; top-5 = 1 (only 3 classes).
// A: TP 2, predicted 3, support 3 -> P 2/3, R 2/3, F1 2/3
// B: TP 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 1/2
// C: TP 0, predicted 1, support 1 -> P 0,   R 0,   F1 0
// Macro P = R = F1 = (2/3 + 1/2 + 0)/3 = 7/18 = 0.388889.
// Loss = -ln(.7*.5*.2*.8*.3*.2)/6 = -ln(0.00336)/6 = 5.695823/6 = 0.949304.
var (
	exClasses = []string{"A", "B", "C"}
	exProbs   = [][]float64{{.7, .2, .1}, {.5, .3, .2}, {.2, .6, .2}, {.1, .8, .1}, {.2, .3, .5}, {.4, .4, .2}}
	exLabels  = []int{0, 0, 0, 1, 1, 2}
)

func logits(probs [][]float64, extra ...float32) *tensor.Tensor {
	c := len(probs[0]) + len(extra)
	t := tensor.New(len(probs), c)
	for i, row := range probs {
		for j, p := range row {
			t.Data[i*c+j] = float32(math.Log(p))
		}
		copy(t.Data[i*c+len(row):], extra)
	}
	return t
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-5 }

func TestWorkedExample(t *testing.T) {
	m, err := Compute(logits(exProbs), exLabels, exClasses)
	if err != nil {
		t.Fatal(err)
	}
	if m.N != 6 || !near(m.Accuracy, 0.5) || m.Top5 != nil || !near(m.Loss, 0.949304) || m.Unknown != 0 {
		t.Errorf("N %d acc %v top5 %v loss %v unknown %d", m.N, m.Accuracy, m.Top5, m.Loss, m.Unknown)
	}
	if want := [][]int{{2, 1, 0}, {0, 1, 1}, {1, 0, 0}}; !reflect.DeepEqual(m.Confusion, want) {
		t.Errorf("confusion %v, want %v", m.Confusion, want)
	}
	if !reflect.DeepEqual(m.Columns, exClasses) {
		t.Errorf("columns %v: no unknown column expected", m.Columns)
	}
	want := map[string]ClassMetrics{
		"A": {2. / 3, 2. / 3, 2. / 3, 3, 3},
		"B": {.5, .5, .5, 2, 2},
		"C": {0, 0, 0, 1, 1},
	}
	checkPerClass(t, m, want)
	for name, v := range map[string]float64{"P": m.Macro.Precision, "R": m.Macro.Recall, "F1": m.Macro.F1} {
		if !near(v, 7./18) {
			t.Errorf("macro %s = %v, want 7/18", name, v)
		}
	}
}

func checkPerClass(t *testing.T, m Metrics, want map[string]ClassMetrics) {
	t.Helper()
	if len(m.PerClass) != len(want) {
		t.Errorf("%d per-class entries, want %d", len(m.PerClass), len(want))
	}
	for name, w := range want {
		g := m.PerClass[name]
		if !near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) ||
			g.Support != w.Support || g.Predicted != w.Predicted {
			t.Errorf("class %s: got %+v, want %+v", name, g, w)
		}
	}
}

// Batches of unequal size: the loss is the mean over samples, which is not
// the tutorial's mean of batch means.
func TestBatchesEqualOneCall(t *testing.T) {
	whole, _ := Compute(logits(exProbs), exLabels, exClasses)
	a := NewAccumulator(exClasses)
	for _, r := range [][2]int{{0, 4}, {4, 6}} {
		if err := a.Add(logits(exProbs[r[0]:r[1]]), exLabels[r[0]:r[1]]); err != nil {
			t.Fatal(err)
		}
	}
	got := a.Metrics()
	if !reflect.DeepEqual(got.Confusion, whole.Confusion) || !near(got.Loss, whole.Loss) || got.N != 6 {
		t.Errorf("batched %+v\nwhole %+v", got, whole)
	}
	meanOfMeans := (-(math.Log(.7)+math.Log(.5)+math.Log(.2)+math.Log(.8))/4 - (math.Log(.3)+math.Log(.2))/2) / 2
	if near(got.Loss, meanOfMeans) {
		t.Errorf("loss %v equals the mean of batch means; the example should tell them apart", got.Loss)
	}
}

// A class with no samples that is never predicted reports zeros and stays
// out of the macro averages.
func TestAbsentClass(t *testing.T) {
	m, err := Compute(logits(exProbs, -100), exLabels, []string{"A", "B", "C", "D"})
	if err != nil {
		t.Fatal(err)
	}
	if d := m.PerClass["D"]; d != (ClassMetrics{}) {
		t.Errorf("D = %+v, want zeros", d)
	}
	if !near(m.Macro.F1, 7./18) || !near(m.Macro.Precision, 7./18) {
		t.Errorf("macro %+v, want 7/18 over the three occurring classes", m.Macro)
	}
	// A class that is predicted but has no samples does count: precision 0.
	probs := [][]float64{{.1, .9}, {.9, .1}}
	m, _ = Compute(logits(probs), []int{0, 0}, []string{"x", "y"})
	checkPerClass(t, m, map[string]ClassMetrics{"x": {1, .5, 2. / 3, 2, 1}, "y": {0, 0, 0, 0, 1}})
	if !near(m.Macro.F1, 1./3) {
		t.Errorf("macro F1 %v, want (2/3+0)/2", m.Macro.F1)
	}
}

// Threshold 0.55 turns samples 2 (p .5), 5 (.5) and 6 (.4) into unknown:
//
//	A: 1 1 0 | 1
//	B: 0 1 0 | 1
//	C: 0 0 0 | 1
//
// Accuracy 2/6. Unknown is no class's prediction: A's precision is 1/1.
func TestUnknownThreshold(t *testing.T) {
	a := NewAccumulator(exClasses)
	a.Threshold = 0.55
	if err := a.Add(logits(exProbs), exLabels); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	if want := [][]int{{1, 1, 0, 1}, {0, 1, 0, 1}, {0, 0, 0, 1}}; !reflect.DeepEqual(m.Confusion, want) {
		t.Errorf("confusion %v, want %v", m.Confusion, want)
	}
	if m.Unknown != 3 || !near(m.Accuracy, 2./6) || m.Top5 != nil || !near(m.Loss, 0.949304) {
		t.Errorf("unknown %d acc %v top5 %v loss %v", m.Unknown, m.Accuracy, m.Top5, m.Loss)
	}
	if !reflect.DeepEqual(m.Columns, []string{"A", "B", "C", UnknownName}) {
		t.Errorf("columns %v", m.Columns)
	}
	checkPerClass(t, m, map[string]ClassMetrics{"A": {1, 1. / 3, .5, 3, 1}, "B": {.5, .5, .5, 2, 2}, "C": {0, 0, 0, 1, 0}})

	// The same through explicit predictions.
	b := NewAccumulator(exClasses)
	if err := b.AddPredicted(logits(exProbs), exLabels, []int{0, Unknown, 1, 1, Unknown, Unknown}); err != nil {
		t.Fatal(err)
	}
	if mb := b.Metrics(); !reflect.DeepEqual(mb, m) {
		t.Errorf("AddPredicted %+v\nthreshold %+v", mb, m)
	}
}

func TestTop5(t *testing.T) {
	seven := []string{"a", "b", "c", "d", "e", "f", "g"}
	cases := []struct {
		name  string
		row   []float32
		label int
		hit   bool
	}{
		{"fifth place", []float32{7, 6, 5, 4, 3, 2, 1}, 4, true},
		{"sixth place", []float32{7, 6, 5, 4, 3, 2, 1}, 5, false},
		{"last place", []float32{7, 6, 5, 4, 3, 2, 1}, 6, false},
		{"first place", []float32{1, 2, 3, 4, 5, 6, 7}, 6, true},
		// All equal: the stable order puts class i at place i.
		{"tie, index 4", []float32{1, 1, 1, 1, 1, 1, 1}, 4, true},
		{"tie, index 5", []float32{1, 1, 1, 1, 1, 1, 1}, 5, false},
		// Tied with the fifth-best but lower index: it takes the fifth place.
		{"tie at the edge, lower index", []float32{9, 9, 9, 9, 1, 5, 5}, 5, true},
		{"tie at the edge, higher index", []float32{9, 9, 9, 9, 1, 5, 5}, 6, false},
	}
	for _, c := range cases {
		m, err := Compute(tensor.FromData(c.row, 1, 7), []int{c.label}, seven)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Top5 != nil && *m.Top5 == 1; got != c.hit {
			t.Errorf("%s: top-5 hit %v, want %v", c.name, got, c.hit)
		}
	}
	// Fewer than five classes: every class is in the top five, so top-5
	// is not reported.
	m, _ := Compute(tensor.FromData([]float32{5, 4, 3, 2}, 1, 4), []int{3}, []string{"a", "b", "c", "d"})
	if m.Top5 != nil || m.Accuracy != 0 {
		t.Errorf("4 classes, last place: top5 %v acc %v, want none and 0", m.Top5, m.Accuracy)
	}
}

// Top-5 is reported from six classes up: the true class ranks 0, 5 and 4
// in three samples, so two of three are in the top five.
func TestTop5OnlyBeyondFiveClasses(t *testing.T) {
	classes := []string{"A", "B", "C", "D", "E", "F"}
	probs := [][]float64{
		{0.5, 0.1, 0.1, 0.1, 0.1, 0.1},
		{0.3, 0.25, 0.2, 0.12, 0.08, 0.05},
		{0.3, 0.25, 0.2, 0.12, 0.08, 0.05},
	}
	m, err := Compute(logits(probs), []int{0, 5, 4}, classes)
	if err != nil {
		t.Fatal(err)
	}
	if m.Top5 == nil || !near(*m.Top5, 2./3) {
		t.Errorf("top-5 %v, want 2/3", m.Top5)
	}
	b, err := json.Marshal(m)
	if err != nil || !strings.Contains(string(b), `"top5":0.666`) {
		t.Errorf("JSON %s, %v", b, err)
	}
	five := [][]float64{{0.6, 0.1, 0.1, 0.1, 0.1}}
	m, err = Compute(logits(five), []int{4}, classes[:5])
	if err != nil || m.Top5 != nil {
		t.Fatalf("five classes: top-5 %v, want none (%v)", m.Top5, err)
	}
	if b, _ := json.Marshal(m); strings.Contains(string(b), "top5") {
		t.Errorf("five classes: JSON reports top-5: %s", b)
	}
}

func TestArgmaxTopK(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		row  []float32
		arg  int
		top3 []int
	}{
		{[]float32{1, 3, 2}, 1, []int{1, 2, 0}},
		{[]float32{2, 2, 2}, 0, []int{0, 1, 2}},
		{[]float32{0, 5, 5, 1}, 1, []int{1, 2, 3}},
		{[]float32{nan, 1, 2}, 2, []int{2, 1, 0}},
		{[]float32{4}, 0, []int{0}},
	}
	for _, c := range cases {
		if got := Argmax(c.row); got != c.arg {
			t.Errorf("Argmax(%v) = %d, want %d", c.row, got, c.arg)
		}
		if got := TopK(c.row, 3); !reflect.DeepEqual(got, c.top3) {
			t.Errorf("TopK(%v, 3) = %v, want %v", c.row, got, c.top3)
		}
	}
}

func TestSoftmaxLargeLogits(t *testing.T) {
	p := Softmax([]float32{1000, 1000 + float32(math.Log(3))})
	if !near(p[0], .25) || !near(p[1], .75) {
		t.Errorf("softmax %v, want [.25 .75]", p)
	}
}

func TestErrors(t *testing.T) {
	a := NewAccumulator(exClasses)
	cases := []struct {
		logits *tensor.Tensor
		labels []int
		preds  []int
		msg    string
	}{
		{tensor.New(2, 4), []int{0, 1}, nil, "expected [N, 3]"},
		{tensor.New(6), []int{0}, nil, "expected [N, 3]"},
		{tensor.New(2, 3), []int{0}, nil, "1 labels"},
		{tensor.New(2, 3), []int{0, 3}, nil, "label 3 of sample 1"},
		{tensor.New(2, 3), []int{0, -1}, nil, "label -1"},
		{tensor.New(2, 3), []int{0, 1}, []int{0}, "1 predictions"},
		{tensor.New(2, 3), []int{0, 1}, []int{0, -2}, "prediction -2"},
	}
	for _, c := range cases {
		err := a.AddPredicted(c.logits, c.labels, c.preds)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v %v %v: error %v, want %q", c.logits, c.labels, c.preds, err, c.msg)
		}
	}
	if a.N() != 0 {
		t.Errorf("rejected batches were counted: N = %d", a.N())
	}
}

func TestEmptyAndJSON(t *testing.T) {
	m := NewAccumulator(exClasses).Metrics()
	if m.N != 0 || m.Accuracy != 0 || m.Loss != 0 || len(m.Confusion) != 3 {
		t.Errorf("empty: %+v", m)
	}
	full, _ := Compute(logits(exProbs), exLabels, exClasses)
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	// Three classes: no top-5 (TestTop5OnlyBeyondFiveClasses has one).
	for _, k := range []string{"accuracy", "loss", "per_class", "confusion", "classes", "n"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}
