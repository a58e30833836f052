package identify

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// TestFaceRunKeepsLastEpoch: a face run chooses no epoch on the test
// split. Even when an earlier epoch scores higher on it, best.safetensors
// and last.safetensors hold the head of the last epoch (the one Fit makes
// for the full epoch count), the unknown rule is the one calibrated for
// that count, no epoch line says "(best)", and history.csv, model.json and
// the run's last line all name the last epoch.
func TestFaceRunKeepsLastEpoch(t *testing.T) {
	photos := makeFolder(t, people, 10)
	// Photos of Ann filed as Bob: the head grows surer that they are Ann,
	// so the test loss rises late in the run while the accuracy stays, and
	// the epoch that scores highest on the test split is not the last.
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
	n := cfg.Epochs
	var top *runs.EpochRecord
	for i := range res.History {
		if res.History[i].Improves(top) {
			top = &res.History[i]
		}
	}
	if top.Epoch == n {
		t.Fatal("the last epoch scores highest: the test cannot tell the last head from the best-scoring one")
	}
	last := res.History[n-1]
	checkKeptMarks(t, so.String(), out, res.History)

	run, err := OpenFaceRun(out)
	must(t, err)
	if res.TestAcc != last.TestAcc || run.Info.BestEpoch != n || run.Info.BestTestAcc != last.TestAcc {
		t.Errorf("result %v, model.json best epoch %d (%v); want epoch %d (%v)", res.TestAcc,
			run.Info.BestEpoch, run.Info.BestTestAcc, n, last.TestAcc)
	}
	// Fit and Calibrate are repeatable: the kept head and rule are those
	// for the full epoch count.
	hc := cfg.head()
	want, err := Fit(context.Background(), run.Model.Classes, run.Model.Train, run.Model.Labels, hc, nil)
	must(t, err)
	lastFile, _, err := LoadModel(filepath.Join(out, runs.LastFile))
	must(t, err)
	for name, m := range map[string]*Model{runs.BestFile: run.Model, runs.LastFile: lastFile} {
		if !slices.Equal(m.Head.Weight.Value.Data, want.Head.Weight.Value.Data) || !slices.Equal(m.Head.Bias.Value.Data, want.Head.Bias.Value.Data) {
			t.Errorf("%s is not the head of %d epochs", name, n)
		}
	}
	rule, _, err := Calibrate(context.Background(), run.Model.Classes, run.Model.Train, run.Model.Labels, hc, DefaultTargetFRR)
	must(t, err)
	if got := run.Rule(); got != rule {
		t.Errorf("stored rule %+v, want the one calibrated for %d epochs %+v", got, n, rule)
	}

	lines := strings.Split(strings.TrimSpace(se.String()), "\n")
	end := lines[len(lines)-1]
	if end != keptNote(res, 0, res.Test, filepath.Join(out, runs.BestFile)) {
		t.Errorf("the run's last line is not its kept note:\n%s", end)
	}
	for _, s := range []string{"kept the head of the last epoch (30 of 30)", "test accuracy " + pct(last.TestAcc), "no epoch on the test split"} {
		if !strings.Contains(end, s) {
			t.Errorf("the run's last line lacks %q:\n%s", s, end)
		}
	}
	if log, _ := os.ReadFile(filepath.Join(out, runs.LogFile)); !strings.Contains(string(log), end) {
		t.Errorf("train.log lacks the run's last line")
	}
}

// The kept note names the epoch that scored highest only when it scored
// higher than the kept one, and then as information.
func TestKeptNote(t *testing.T) {
	h := []runs.EpochRecord{{Epoch: 1, TestAcc: 0.5}, {Epoch: 2, TestAcc: 0.75, TestLoss: 2}, {Epoch: 3, TestAcc: 0.625},
		{Epoch: 4, TestAcc: 0.75, TestLoss: 1}, {Epoch: 5, TestAcc: 0.625, Best: true}}
	res := &TrainResult{History: h, TestAcc: 0.625, TestAccOpenSet: 0.5}
	want := "kept the head of the last epoch (5 of 5) in run/best.safetensors: test accuracy 62.5% (50.0% with the unknown rule; " +
		"1 of 8 test photos without a usable face count as errors); face runs choose no epoch on the test split, so this is a " +
		"fair held-out figure (for information: the highest test accuracy, 75.0%, was first reached at epoch 2, in 2 epoch(s) in all)"
	if got := keptNote(res, 1, 8, "run/best.safetensors"); got != want {
		t.Errorf("note\n%s\nwant\n%s", got, want)
	}
	res.History[4].TestAcc, res.TestAcc = 0.75, 0.75
	if got := keptNote(res, 1, 8, "run/best.safetensors"); strings.Contains(got, "for information") {
		t.Errorf("the last epoch scores as high as any, yet the note points elsewhere: %s", got)
	}
}

// checkKeptMarks: no epoch line is marked, and only the last epoch is
// marked best (kept) in the history and in history.csv.
func checkKeptMarks(t *testing.T, stdout, out string, h []runs.EpochRecord) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.Contains(l, "(best)") {
			t.Errorf("epoch line marked: %q", l)
		}
	}
	csv, err := os.ReadFile(filepath.Join(out, runs.HistoryFile))
	must(t, err)
	rows := strings.Split(strings.TrimSpace(string(csv)), "\n")[1:]
	if len(rows) != len(h) {
		t.Fatalf("history.csv has %d rows, want %d", len(rows), len(h))
	}
	for i, row := range rows {
		want := i == len(h)-1
		if h[i].Best != want || strings.HasSuffix(row, ",true") != want {
			t.Errorf("epoch %d: best %v, history.csv %q; want %v", i+1, h[i].Best, row, want)
		}
	}
}

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }
