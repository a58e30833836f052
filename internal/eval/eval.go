// Package eval turns a model's scores on labelled samples into the numbers
// `starid eval` reports: accuracy, top-5 accuracy, mean cross-entropy,
// per-class precision/recall/F1 and the confusion matrix.
//
// Conventions (fixed here so that every caller reports the same thing):
//
//   - The predicted class is the arg-max of the logits; ties go to the lower
//     class index (the first maximum), as torch.argmax does on CPU.
//   - Top-k uses the same order: a sample is a top-k hit when its true class
//     sits within the first k places of a stable descending sort of its
//     scores, i.e. fewer than k classes beat it, counting classes with an
//     equal score and a lower index as beating it. With fewer than k classes
//     every sample is a top-k hit. Top-1 under this rule equals Accuracy when
//     no prediction is "unknown".
//   - Loss is the mean cross-entropy per sample over the whole set: the sum
//     of every sample's -log softmax(true class) divided by N. The tutorial
//     averages the per-batch means instead, which weighs the samples of a
//     smaller last batch more heavily; the two agree when every batch has the
//     same size.
//   - A prediction may be "unknown" (class index Unknown = -1, from an
//     open-set threshold). It is always wrong, since every evaluated sample
//     belongs to a known class; it is not a prediction of any class, so it
//     lowers that class's recall but no class's precision. It gets a
//     confusion-matrix column only if at least one occurs. Top-5 and Loss
//     are computed from the scores and ignore the unknown decision.
//   - Precision of a class that was never predicted is 0, recall of a class
//     with no samples is 0, and F1 is 0 when precision+recall is 0 (scikit-
//     learn's zero_division=0). Macro averages are taken over the classes
//     that occur at all, as a true class or as a prediction (scikit-learn's
//     default label set), so that a class absent from a small test folder and
//     never predicted does not drag the average towards 0.
package eval

import (
	"fmt"
	"starid/internal/nn"

	"starid/internal/tensor"
)

// Unknown is the predicted-class index of an open-set rejection.
const Unknown = -1

// UnknownName labels the confusion-matrix column of unknown predictions.
const UnknownName = "unknown"

// ClassMetrics are one class's scores. Predicted is the number of samples
// predicted as this class (the confusion column sum), kept so that a reader
// can tell a 0 precision from a class that was never predicted.
type ClassMetrics struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`
	Predicted int     `json:"predicted"`
}

// Averages are unweighted means of the per-class scores (see the package
// doc for which classes take part).
type Averages struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Metrics is the result of an evaluation. Confusion has one row per true
// class (in Classes order) and one column per entry of Columns: the classes,
// followed by UnknownName when any prediction was unknown.
type Metrics struct {
	Accuracy float64 `json:"accuracy"`
	// Top5 is the share of samples whose class is among the five highest
	// scores; nil (and left out of JSON) with five classes or fewer, where
	// every class is in the top five and the number would say nothing.
	Top5      *float64                `json:"top5,omitempty"`
	Loss      float64                 `json:"loss"`
	N         int                     `json:"n"`
	Unknown   int                     `json:"unknown"`
	PerClass  map[string]ClassMetrics `json:"per_class"`
	Macro     Averages                `json:"macro"`
	Confusion [][]int                 `json:"confusion"`
	Classes   []string                `json:"classes"`
	Columns   []string                `json:"columns"`
}

// Accumulator gathers batches of scores and labels. The zero value is not
// usable; call NewAccumulator.
type Accumulator struct {
	classes []string
	// Threshold, when positive, turns a prediction whose softmax probability
	// is below it into Unknown (the open-set rule of whole-photo models).
	Threshold float64

	conf    [][]int // C rows x C+1 columns; the last counts unknown predictions
	n       int
	correct int
	top5    int
	lossSum float64
	prob    []float64 // scratch: one row's softmax
}

// NewAccumulator starts an evaluation over the given class names; the
// logits of every batch must have len(classes) columns.
func NewAccumulator(classes []string) *Accumulator {
	c := len(classes)
	conf := make([][]int, c)
	for i := range conf {
		conf[i] = make([]int, c+1)
	}
	return &Accumulator{classes: append([]string(nil), classes...), conf: conf, prob: make([]float64, c)}
}

// Add scores one batch: logits is [N, C], labels holds N true class indices.
// Predictions are the arg-max, or Unknown under Threshold.
func (a *Accumulator) Add(logits *tensor.Tensor, labels []int) error {
	return a.AddPredicted(logits, labels, nil)
}

// AddPredicted is Add with the predictions decided by the caller (for
// open-set rules that are not a softmax threshold, such as a descriptor
// distance): preds[i] is a class index or Unknown. A nil preds means Add.
// The logits still give the loss and the top-5 ranking.
func (a *Accumulator) AddPredicted(logits *tensor.Tensor, labels, preds []int) error {
	c := len(a.classes)
	if logits.Dim() != 2 || logits.Shape[1] != c {
		return fmt.Errorf("eval: logits shape %s, expected [N, %d] for %d classes", tensor.ShapeString(logits.Shape), c, c)
	}
	n := logits.Shape[0]
	if len(labels) != n {
		return fmt.Errorf("eval: %d labels for logits of shape %s", len(labels), tensor.ShapeString(logits.Shape))
	}
	if preds != nil && len(preds) != n {
		return fmt.Errorf("eval: %d predictions for logits of shape %s", len(preds), tensor.ShapeString(logits.Shape))
	}
	for i, y := range labels {
		if y < 0 || y >= c {
			return fmt.Errorf("eval: label %d of sample %d is not a class index in [0, %d)", y, i, c)
		}
		if preds != nil && (preds[i] < Unknown || preds[i] >= c) {
			return fmt.Errorf("eval: prediction %d of sample %d is neither a class index in [0, %d) nor Unknown", preds[i], i, c)
		}
	}
	for i, y := range labels {
		row := logits.Data[i*c : (i+1)*c]
		lse := nn.SoftmaxRow(a.prob, row)
		a.lossSum += lse - float64(row[y])
		var p int
		if preds != nil {
			p = preds[i]
		} else {
			p = Argmax(row)
			if a.Threshold > 0 && a.prob[p] < a.Threshold {
				p = Unknown
			}
		}
		if p == y {
			a.correct++
		}
		if p == Unknown {
			a.conf[y][c]++
		} else {
			a.conf[y][p]++
		}
		if Rank(row, y) < 5 {
			a.top5++
		}
		a.n++
	}
	return nil
}

// Top5Share is the top-5 share for Metrics.Top5: hits of n samples, or nil
// when classes are 5 or fewer.
func Top5Share(hits, n, classes int) *float64 {
	if classes <= 5 || n == 0 {
		return nil
	}
	v := float64(hits) / float64(n)
	return &v
}

// N is the number of samples added so far.
func (a *Accumulator) N() int { return a.n }

// Metrics summarizes everything added so far. With no samples the rates and
// the loss are 0 (there is nothing to be wrong about) and N says so.
func (a *Accumulator) Metrics() Metrics {
	c := len(a.classes)
	m := Metrics{N: a.n, Classes: append([]string(nil), a.classes...), PerClass: make(map[string]ClassMetrics, c)}
	if a.n > 0 {
		m.Accuracy = float64(a.correct) / float64(a.n)
		m.Top5 = Top5Share(a.top5, a.n, c)
		m.Loss = a.lossSum / float64(a.n)
	}
	for _, row := range a.conf {
		m.Unknown += row[c]
	}
	cols := c
	m.Columns = append([]string(nil), a.classes...)
	if m.Unknown > 0 {
		cols++
		m.Columns = append(m.Columns, UnknownName)
	}
	m.Confusion = make([][]int, c)
	for i, row := range a.conf {
		m.Confusion[i] = append([]int(nil), row[:cols]...)
	}
	occurring := 0
	for j, name := range a.classes {
		support, predicted := 0, 0
		for k := range c {
			predicted += a.conf[k][j]
		}
		for _, v := range a.conf[j] {
			support += v
		}
		tp := a.conf[j][j]
		cm := ClassMetrics{Support: support, Predicted: predicted,
			Precision: ratio(tp, predicted), Recall: ratio(tp, support)}
		if s := cm.Precision + cm.Recall; s > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / s
		}
		m.PerClass[name] = cm
		if support > 0 || predicted > 0 {
			occurring++
			m.Macro.Precision += cm.Precision
			m.Macro.Recall += cm.Recall
			m.Macro.F1 += cm.F1
		}
	}
	if occurring > 0 {
		m.Macro.Precision /= float64(occurring)
		m.Macro.Recall /= float64(occurring)
		m.Macro.F1 /= float64(occurring)
	}
	return m
}

// Compute evaluates one [N, C] block of logits in a single call.
func Compute(logits *tensor.Tensor, labels []int, classes []string) (Metrics, error) {
	a := NewAccumulator(classes)
	if err := a.Add(logits, labels); err != nil {
		return Metrics{}, err
	}
	return a.Metrics(), nil
}

func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// Argmax is the index of the largest score, the first one on ties. A NaN
// score is never the maximum unless every score is NaN (then 0).
func Argmax(row []float32) int {
	best := 0
	for j := 1; j < len(row); j++ {
		if row[j] > row[best] || (row[best] != row[best] && row[j] == row[j]) {
			best = j
		}
	}
	return best
}

// Rank is the 0-based place of class y in a stable descending sort of row:
// the number of classes with a higher score plus those with an equal score
// and a lower index.
func Rank(row []float32, y int) int {
	r := 0
	for j, v := range row {
		if v > row[y] || (v == row[y] && j < y) {
			r++
		}
	}
	return r
}

// TopK returns the indices of the k highest scores, best first, ties broken
// by the lower index (the order Rank uses); k is clipped to len(row).
func TopK(row []float32, k int) []int {
	k = min(k, len(row))
	idx := make([]int, 0, k)
	taken := make([]bool, len(row))
	for range k {
		best := -1
		for j, v := range row {
			if taken[j] {
				continue
			}
			if best < 0 || v > row[best] || (row[best] != row[best] && v == v) {
				best = j
			}
		}
		taken[best] = true
		idx = append(idx, best)
	}
	return idx
}

// Softmax returns the class probabilities of one row of logits.
func Softmax(row []float32) []float64 {
	p := make([]float64, len(row))
	if len(row) > 0 {
		nn.SoftmaxRow(p, row)
	}
	return p
}
