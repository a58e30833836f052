package nn

import (
	"fmt"
	"math"

	"starid/internal/tensor"
)

// CrossEntropy is softmax cross-entropy averaged over the batch (PyTorch's
// nn.CrossEntropyLoss with its defaults, except that every label must be a
// class: there is no ignore_index). logits is [N, C]; labels holds N class
// indices. It returns the mean loss and dL/dlogits = (softmax - onehot)/N,
// a new tensor.
//
// Each row is computed in float64 as log-sum-exp with the row maximum
// subtracted, so large logits neither overflow exp nor lose the small
// differences between classes.
func CrossEntropy(logits *tensor.Tensor, labels []int) (loss float64, dlogits *tensor.Tensor, err error) {
	if logits.Dim() != 2 || logits.Shape[1] < 1 {
		return 0, nil, fmt.Errorf("cross-entropy: logits shape %s, expected [N, classes]", tensor.ShapeString(logits.Shape))
	}
	n, c := logits.Shape[0], logits.Shape[1]
	if len(labels) != n {
		return 0, nil, fmt.Errorf("cross-entropy: %d labels for logits of shape %s", len(labels), tensor.ShapeString(logits.Shape))
	}
	if n == 0 {
		return 0, nil, fmt.Errorf("cross-entropy: empty batch")
	}
	for i, y := range labels {
		if y < 0 || y >= c {
			return 0, nil, fmt.Errorf("cross-entropy: label %d of sample %d is not a class index in [0, %d)", y, i, c)
		}
	}
	dlogits = tensor.New(n, c)
	inv := 1 / float64(n)
	p := make([]float64, c)
	for i, y := range labels {
		row := logits.Data[i*c : (i+1)*c]
		lse := SoftmaxRow(p, row)
		loss += lse - float64(row[y])
		g := dlogits.Data[i*c : (i+1)*c]
		for j, pj := range p {
			g[j] = float32(pj * inv)
		}
		g[y] = float32((p[y] - 1) * inv)
	}
	return loss * inv, dlogits, nil
}

// SoftmaxRow writes softmax(row) into p (float64, max-shifted so large
// logits neither overflow nor lose their differences) and returns
// log(sum(exp(row))), the log-sum-exp a cross-entropy needs.
func SoftmaxRow(p []float64, row []float32) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = max(m, float64(v))
	}
	if math.IsInf(m, 0) {
		// All -Inf (or some +Inf): the shift would make NaN from Inf-Inf
		// anyway; let the arithmetic say so without the shift.
		m = 0
	}
	s := 0.0
	for j, v := range row {
		e := math.Exp(float64(v) - m)
		p[j] = e
		s += e
	}
	for j := range p {
		p[j] /= s
	}
	return m + math.Log(s)
}

// Softmax returns the row-wise softmax of logits (last dimension = classes)
// as a new tensor: class probabilities for prediction.
func Softmax(logits *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(logits.Shape...)
	c := 1 // a scalar is one row of one class
	if logits.Dim() > 0 {
		c = logits.Shape[logits.Dim()-1]
	}
	if c == 0 {
		return out
	}
	p := make([]float64, c)
	for i := 0; i < logits.Numel(); i += c {
		SoftmaxRow(p, logits.Data[i:i+c])
		for j, v := range p {
			out.Data[i+j] = float32(v)
		}
	}
	return out
}
