package identify

import (
	"math"

	"starid/internal/runs"
)

// Result is the face run in brief (`train --model face --json`).
func (r *TrainResult) Result() runs.Summary {
	noFace := len(r.NoFace)
	s := runs.Summary{Run: r.Dir, Model: runs.ModelFace, Epochs: len(r.History), TestAccuracy: r.TestAcc,
		OpenSetAccuracy: &r.TestAccOpenSet, Classes: r.Classes, NoFace: &noFace, Skipped: r.Stats.Unusable}
	if !math.IsInf(r.Rule.MaxDistance, 0) { // JSON has no infinity: no threshold is no field
		s.UnknownThreshold = &r.Rule.MaxDistance
	}
	return s
}
