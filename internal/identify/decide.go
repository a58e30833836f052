package identify

import (
	"starid/internal/eval"
	"starid/internal/faces"
)

// IdentifyPhoto answers for a whole photo: who it shows. Each face is
// answered under rule, and the photo's answer is that of the face the rule
// is surest of (the lowest Rule.Score); when no face is named, it is the
// main face's (faces.MainFace), so "unknown (closest: ...)" speaks of the
// photo's subject. It returns the face answered for, -1 (and a zero
// Answer) when fs is empty.
//
// The subject of a photo is not always the face the detector puts first:
// a sharper face in the background, a framed inset, or a false box on a
// palm tree can score higher or be larger. Across 5-fold cross-validation
// on celebrity17 taking the surest face named 99.64% of photos right in
// closed set against 99.34% for the main face alone, and it named no more
// strangers (docs/EXPERIMENTS.md, "Session 6 accuracy").
func (m *Model) IdentifyPhoto(fs []faces.Face, rule Rule, k int) (int, Answer) {
	return PickFace(fs, rule, func(desc []float32) Answer { return m.Identify(desc, rule, k) })
}

// PickFace is IdentifyPhoto's choice of face for any way of answering one
// descriptor under rule, so experiments that answer differently (another
// descriptor space for the head than for the distance) choose faces alike.
func PickFace(fs []faces.Face, rule Rule, answer func(desc []float32) Answer) (int, Answer) {
	main := faces.MainFace(fs)
	if main < 0 {
		return -1, Answer{}
	}
	best, a := main, answer(fs[main].Descriptor)
	score := rule.Score(a)
	for i, f := range fs {
		if i == main {
			continue
		}
		b := answer(f.Descriptor)
		// Only a named face takes the photo from the main face: a named
		// one scores at most 1, an unknown one more.
		if s := rule.Score(b); b.Class != eval.Unknown && s < score {
			best, a, score = i, b, s
		}
	}
	return best, a
}
