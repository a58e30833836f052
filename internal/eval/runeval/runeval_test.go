package runeval

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/train"
)

func TestRunNamesTheMissingRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	if _, err := Run(dir, Options{}); err == nil || !strings.Contains(err.Error(), dir+": no such run directory") {
		t.Errorf("err = %v", err)
	}
}

// Usage errors stay distinguishable from input errors once wrapped, so the
// command line can pick its exit status.
func TestUsageErrorSurvivesWrapping(t *testing.T) {
	err := usagef("--strangers: %q is a person the run knows, not a stranger", "Ann")
	var ue UsageError
	if !errors.As(errors.Join(errors.New("context"), err), &ue) || !strings.Contains(ue.Msg, `"Ann"`) {
		t.Errorf("UsageError lost: %v", err)
	}
}

// A VGG run's evaluation reports every test photo through Progress, ending
// at the total.
func TestVGGProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network for one epoch")
	}
	dir := t.TempDir()
	photos, run := filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	if err := data.Synthesize(photos, 3, 6, 32, 1); err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Data, cfg.Out, cfg.Model, cfg.Width = photos, run, "vgg16-convbn-dropout-gap", 0.0625
	cfg.Size, cfg.Epochs, cfg.Batch, cfg.TrainFrac = 32, 1, 4, 0.5
	if _, err := train.Train(t.Context(), cfg, train.Output{}); err != nil {
		t.Fatal(err)
	}
	var calls [][2]int
	res, err := Run(run, Options{Batch: 4, Progress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.run != "run" || res.model != cfg.Model {
		t.Errorf("the pictures would name run %q model %q, want run %q", res.run, res.model, cfg.Model)
	}
	if len(calls) < 2 {
		t.Fatalf("progress calls %v: want one per batch of 4 over %d photos", calls, res.N)
	}
	for i, c := range calls {
		if c[1] != res.N || (i > 0 && c[0] <= calls[i-1][0]) {
			t.Errorf("progress calls %v: want rising counts of %d", calls, res.N)
			break
		}
	}
	if last := calls[len(calls)-1]; last[0] != res.N {
		t.Errorf("progress ended at %v, want %d of %d", last, res.N, res.N)
	}
}

func TestConfusionTitle(t *testing.T) {
	r := &Result{Data: "/photos/celebrity17", Split: "test", run: "face17", model: "face"}
	r.Accuracy, r.N = 0.989, 273
	if got, want := r.title(), "face17 (face)\naccuracy 98.9% on 273 photos (test split)"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	r.Split = ""
	if got, want := r.title(), "face17 (face)\naccuracy 98.9% on 273 photos in celebrity17"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}
