package identify

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"starid/internal/identify/identifytest"
	"starid/internal/optim"
	"starid/internal/runs"
)

// TestFaceRunKeepsBestEpoch: the epochs marked (best) are those that beat
// every earlier one (runs.EpochRecord.Improves), in the log and in
// history; best.safetensors holds the head of the last one marked, which
// model.json names, and last.safetensors the final head.
func TestFaceRunKeepsBestEpoch(t *testing.T) {
	photos := makeFolder(t, people, 10)
	// Photos of Ann filed as Bob: the head grows surer that they are Ann,
	// so the test loss rises late in the run while the accuracy stays, and
	// the best epoch comes before the last.
	for i := range 4 {
		must(t, identifytest.WritePhoto(filepath.Join(photos, "Bob", "ann"+strconv.Itoa(i)+".png"), 64, 48,
			identifytest.Face{P: 0, X: 2 + i, Y: 2, Size: 20}))
	}
	out := filepath.Join(t.TempDir(), "run")
	cfg := trainConfig(photos, out, nil)
	var so, se strings.Builder
	res, err := Train(context.Background(), cfg, &identifytest.Fake{}, runs.Output{Stdout: &so, Stderr: &se})
	if err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
	var best *runs.EpochRecord
	lines := strings.Split(strings.TrimSpace(so.String()), "\n")
	for i, r := range res.History {
		want := r.Improves(best)
		if r.Best != want || strings.HasSuffix(lines[i], "(best)") != want {
			t.Errorf("epoch %d: marked %v, line %q; want %v", r.Epoch, r.Best, lines[i], want)
		}
		if want {
			best = &res.History[i]
		}
	}
	if best.Epoch == len(res.History) {
		t.Fatal("the last epoch is the best: the test cannot tell the best head from the last")
	}
	run, err := OpenFaceRun(out)
	must(t, err)
	if res.BestEpoch != best.Epoch || run.Info.BestEpoch != best.Epoch || run.Info.BestTestAcc != best.TestAcc || res.TestAcc != best.TestAcc {
		t.Errorf("best epoch %d (%v): result says %d (%v), model.json %d (%v)", best.Epoch, best.TestAcc,
			res.BestEpoch, res.TestAcc, run.Info.BestEpoch, run.Info.BestTestAcc)
	}
	if !strings.Contains(se.String(), "best epoch "+strconv.Itoa(best.Epoch)+" of 30") {
		t.Errorf("stderr does not name the best epoch:\n%s", se.String())
	}
	// Fit is repeatable: a head fitted for best.Epoch epochs is the kept one.
	hc := HeadConfig{Epochs: best.Epoch, Batch: cfg.Batch, Optimizer: cfg.Optimizer, LR: cfg.LR, Seed: cfg.Seed, Schedule: optim.Constant{}}
	want, err := Fit(context.Background(), run.Model.Classes, run.Model.Train, run.Model.Labels, hc, nil)
	must(t, err)
	if !slices.Equal(run.Model.Head.Weight.Value.Data, want.Head.Weight.Value.Data) ||
		!slices.Equal(run.Model.Head.Bias.Value.Data, want.Head.Bias.Value.Data) {
		t.Errorf("best.safetensors is not the head of epoch %d", best.Epoch)
	}
	last, _, err := LoadModel(filepath.Join(out, runs.LastFile))
	must(t, err)
	if slices.Equal(last.Head.Weight.Value.Data, want.Head.Weight.Value.Data) {
		t.Errorf("last.safetensors holds the head of epoch %d, not of the last epoch", best.Epoch)
	}
}
