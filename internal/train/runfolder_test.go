package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/runs"
)

// A learning rate that blows the loss up says so, in words, before any
// NaN reaches a JSON file, and the same --out works again at once (issue
// 17, row 5: "json: unsupported value: NaN", then "not empty").
func TestDivergedRunSaysSoAndLeavesOutFree(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(dataDir, out, 2)
	cfg.Optimizer, cfg.LR, cfg.Schedule = "sgd", 1e12, "none"
	var o runOutput
	_, err := Train(context.Background(), cfg, o.output(nil))
	if !errors.Is(err, runs.ErrDiverged) || !strings.Contains(err.Error(), "training diverged at epoch 1") ||
		!strings.Contains(err.Error(), "lower --lr") || strings.Contains(err.Error(), "json") {
		t.Fatalf("diverging run: %v", err)
	}
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)
}

// kill -9 before the first epoch leaves split.json, model.json (no best
// epoch), train.log, the lock and maybe a temporary file: a rerun takes the
// folder over, --resume says to rerun, and a finished run is never taken.
func TestRerunAfterKillBeforeFirstEpoch(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	done := filepath.Join(t.TempDir(), "done")
	mustTrain(t, tinyConfig(dataDir, done, 1), nil)

	out := filepath.Join(t.TempDir(), "killed")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(out, 0o755))
	for _, f := range []string{runs.SplitFile, runs.LogFile, runs.LockFile} {
		b, _ := os.ReadFile(filepath.Join(done, f))
		must(os.WriteFile(filepath.Join(out, f), b, 0o644))
	}
	must(os.WriteFile(filepath.Join(out, ".last.safetensors.tmp-99"), []byte("half"), 0o600))
	resume := tinyConfig(dataDir, out, 1)
	resume.Resume = true
	if _, err := Train(context.Background(), resume, Output{}); err == nil || !strings.Contains(err.Error(), "without --resume") {
		t.Errorf("--resume of a run without model.json: %v", err)
	}
	info, err := runs.ReadModelInfo(done)
	must(err)
	info.BestEpoch, info.BestTestAcc = 0, 0
	must(runs.WriteModelInfo(out, info))

	_, o := mustTrain(t, tinyConfig(dataDir, out, 1), nil)
	if !strings.Contains(o.stderr.String(), "never completed an epoch") {
		t.Errorf("no note about the replaced start:\n%s", o.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, ".last.safetensors.tmp-99")); err == nil {
		t.Error("stale temporary file kept")
	}
	for _, dir := range []string{done, out} {
		if _, err := Train(context.Background(), tinyConfig(dataDir, dir, 1), Output{}); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("new run over the finished %s: %v", dir, err)
		}
	}
}

// Another writer holding the folder is named, and nothing is touched.
func TestTrainRefusesAHeldRunFolder(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	out := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)
	lock, err := runs.LockRun(out, "starid enroll \"X\"", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	before, _ := os.ReadFile(filepath.Join(out, runs.LastFile))
	resume := tinyConfig(dataDir, out, 2)
	resume.Resume = true
	_, err = Train(context.Background(), resume, Output{})
	if !errors.Is(err, runs.ErrInUse) || !strings.Contains(err.Error(), `starid enroll "X"`) {
		t.Errorf("resume of a held run: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, runs.LastFile)); string(after) != string(before) {
		t.Error("the refused resume changed last.safetensors")
	}
}

// An edited class list in model.json stops --resume and predict (row 6).
func TestResumeRefusesEditedClasses(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	out := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)
	info, err := runs.ReadModelInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, classes := range [][]string{{"classA", "classB", "Renamed"}, {"classA", "classB"}} {
		edited := *info
		edited.Classes = classes
		if err := runs.WriteModelInfo(out, &edited); err != nil {
			t.Fatal(err)
		}
		resume := tinyConfig(dataDir, out, 2)
		resume.Resume = true
		if _, err := Train(context.Background(), resume, Output{}); err == nil || !strings.Contains(err.Error(), "changed by hand") {
			t.Errorf("resume with classes %v: %v", classes, err)
		}
		if _, err := runs.OpenRun(out); err == nil || !strings.Contains(err.Error(), "put the class list back") {
			t.Errorf("open with classes %v: %v", classes, err)
		}
	}
}

// A photo whose name is not UTF-8 keeps its exact bytes in split.json, so
// that resume (and eval) find it again (row 7).
func TestNonUTF8FileNameSurvivesResume(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	odd := filepath.Join(dataDir, "classA", "caf\xe9.png")
	if err := os.Rename(filepath.Join(dataDir, "classA", "00.png"), odd); err != nil {
		t.Skip("file system refuses non-UTF-8 names:", err)
	}
	out := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)
	sp, err := data.ReadSplit(filepath.Join(out, runs.SplitFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(slices.Concat(sp.Train, sp.Test), "classA/caf\xe9.png") {
		t.Errorf("split.json lost the name's bytes: %q %q", sp.Train, sp.Test)
	}
	raw, _ := os.ReadFile(filepath.Join(out, runs.SplitFile))
	if !strings.Contains(string(raw), `{"escaped": "classA/caf%E9.png"}`) && !strings.Contains(string(raw), `"escaped": "classA/caf%E9.png"`) {
		t.Errorf("split.json does not hold the escaped form:\n%s", raw)
	}
	resume := tinyConfig(dataDir, out, 2)
	resume.Resume = true
	if _, o := mustTrain(t, resume, nil); !strings.Contains(o.stderr.String(), "resuming") {
		t.Errorf("no resume:\n%s", o.stderr.String())
	}
}
