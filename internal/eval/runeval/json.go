package runeval

import (
	"encoding/json"
	"io"

	"starid/internal/cli"
	"starid/internal/eval"
)

// ClassScore is one class of `eval --json`'s per_class list: the same
// shape as `data stats --json`'s classes (a list of objects named by
// "name", in the run's class order), not a map keyed by name.
type ClassScore struct {
	Name string `json:"name"`
	eval.ClassMetrics
}

// ClassScores lists the per-class metrics in the run's class order.
func (r *Result) ClassScores() []ClassScore {
	out := make([]ClassScore, len(r.Classes))
	for i, c := range r.Classes {
		out[i] = ClassScore{Name: c, ClassMetrics: r.PerClass[c]}
	}
	return out
}

// MarshalJSON writes per_class as ClassScores' list.
func (r *Result) MarshalJSON() ([]byte, error) {
	type plain Result // without this method
	return json.Marshal(struct {
		*plain
		PerClass []ClassScore `json:"per_class"` // shallower than Metrics' map, so it wins
	}{(*plain)(r), r.ClassScores()})
}

// WriteCSV is `eval --csv`: one row per class, with a header.
func (r *Result) WriteCSV(w io.Writer) error {
	out := cli.NewCSV(w)
	out.Row("class", "precision", "recall", "f1", "support", "predicted")
	for _, c := range r.ClassScores() {
		out.Row(c.Name, cli.Float(c.Precision, 4), cli.Float(c.Recall, 4), cli.Float(c.F1, 4), c.Support, c.Predicted)
	}
	return out.Flush()
}
