package runs

import (
	"math"
	"strings"
	"testing"
)

func goodSettings() Settings {
	return Settings{Data: "d", Out: "o", Epochs: 1, Batch: 4, Optimizer: "Adam", LR: 1e-3, Schedule: "none", TrainFrac: 0.8}
}

// CheckTraining is the validation both trainers share: each refusal names
// the flag, and a good setting comes back in model.json's spelling.
func TestCheckTraining(t *testing.T) {
	s := goodSettings()
	if err := s.CheckTraining(); err != nil || s.Optimizer != "adam" {
		t.Fatalf("good settings: %v, optimizer %q", err, s.Optimizer)
	}
	for _, c := range []struct {
		edit func(*Settings)
		want string
	}{
		{func(s *Settings) { s.Epochs = 0 }, "--epochs 0"},
		{func(s *Settings) { s.Batch = MaxBatch + 1 }, "--batch 4097"},
		{func(s *Settings) { s.LR = math.NaN() }, "--lr NaN"},
		{func(s *Settings) { s.Workers = -1 }, "--workers -1"},
		{func(s *Settings) { s.TrainFrac = 1 }, "--train-frac 1"},
		{func(s *Settings) { s.Optimizer = "rmsprop" }, `--optimizer "rmsprop"`},
		{func(s *Settings) { s.Schedule = "sometimes" }, "sometimes"},
	} {
		s := goodSettings()
		c.edit(&s)
		if err := s.CheckTraining(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
	for _, s := range []Settings{{Out: "o"}, {Data: "d"}} {
		if err := s.CheckPaths(); err == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}
