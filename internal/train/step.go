// Package train runs the training loop: one step is forward, loss (plus
// the optional L1/L2 penalties), backward and an optimizer update.
package train

import (
	"fmt"

	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
)

// Stepper does one training step of a classifier.
type Stepper struct {
	Model nn.Layer
	Opt   optim.Optimizer
	// L1 and L2 are the tutorial's penalty weights: lambda*sum|w| and
	// lambda*sum w^2 added to the loss (0 disables them).
	L1, L2 float64
	params []*nn.Param
}

// StepResult is what one step reports.
type StepResult struct {
	Loss    float64 // cross-entropy plus penalties, as the tutorial prints it
	Correct int     // samples whose arg-max logit is the label
}

// Step trains on one batch. The model must be in training mode.
func (s *Stepper) Step(x *tensor.Tensor, labels []int) (StepResult, error) {
	if s.params == nil {
		s.params = s.Model.Params()
	}
	nn.ZeroGrad(s.Model)
	logits, err := s.Model.Forward(x)
	if err != nil {
		return StepResult{}, err
	}
	correct := CountCorrect(logits, labels)
	loss, dlogits, err := nn.CrossEntropy(logits, labels)
	if err != nil {
		return StepResult{}, err
	}
	if _, err := s.Model.Backward(dlogits); err != nil {
		return StepResult{}, err
	}
	if s.L1 != 0 {
		loss += optim.L1Penalty(s.params, s.L1)
	}
	if s.L2 != 0 {
		loss += optim.L2Penalty(s.params, s.L2)
	}
	if err := s.Opt.Step(); err != nil {
		return StepResult{}, err
	}
	return StepResult{Loss: loss, Correct: correct}, nil
}

// CountCorrect counts rows of logits whose largest entry is at the label.
func CountCorrect(logits *tensor.Tensor, labels []int) int {
	if logits.Dim() != 2 || logits.Shape[0] != len(labels) {
		panic(fmt.Sprintf("train.CountCorrect: logits %v for %d labels", logits.Shape, len(labels)))
	}
	n, c := logits.Shape[0], logits.Shape[1]
	correct := 0
	for i := 0; i < n; i++ {
		row := logits.Data[i*c : (i+1)*c]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == labels[i] {
			correct++
		}
	}
	return correct
}
