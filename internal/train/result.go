package train

import "starid/internal/runs"

// Result is the run in brief (`train --json`).
func (s *Summary) Result(model string) runs.Summary {
	return runs.Summary{Run: s.Dir, Model: model, Epochs: s.Epochs, BestEpoch: s.BestEpoch, TestAccuracy: s.BestTestAcc, Skipped: s.Skipped}
}
