package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/facecrop"
	"starid/internal/nn"
	"starid/internal/runs"
)

func TestEpochLine(t *testing.T) {
	for _, tc := range []struct {
		rec    runs.EpochRecord
		epochs int
		want   string
	}{
		{runs.EpochRecord{Epoch: 1, DurationMS: 12345, TrainAcc: 0.234, TrainLoss: 2.3454, TestAcc: 0.201, TestLoss: 2.5671, LR: 9.2e-5, Best: true}, 40,
			"Epoch: 1/40, Duration: 12.3 s, Train_acc: 23.4%, Train_loss: 2.345, Test_acc: 20.1%, Test_loss: 2.567, Lr: 9.20E-05  (best)"},
		{runs.EpochRecord{Epoch: 12, DurationMS: 7, TrainAcc: 1, TrainLoss: 0.0004, TestAcc: 0.6875, TestLoss: 10.25, LR: 1e-4}, 12,
			"Epoch: 12/12, Duration: 0.007 s, Train_acc: 100.0%, Train_loss: 0.000, Test_acc: 68.8%, Test_loss: 10.250, Lr: 1.00E-04"},
	} {
		if got := tc.rec.Line(tc.epochs); got != tc.want {
			t.Errorf("Line:\n got %q\nwant %q", got, tc.want)
		}
	}
}

var epochLineRE = regexp.MustCompile(`^Epoch: (\d+)/(\d+), Duration: \d+\.\d+ s, Train_acc: \d+\.\d%, Train_loss: \d+\.\d{3}, ` +
	`Test_acc: \d+\.\d%, Test_loss: \d+\.\d{3}, Lr: \d\.\d\dE[-+]\d\d(  \(best\))?$`)

func TestTrainWritesRun(t *testing.T) {
	dataDir := makeShapes(t, 3, 12)
	out := filepath.Join(t.TempDir(), "run")
	cfg := tinyConfig(dataDir, out, 3)
	var o runOutput
	op := o.output(nil)
	var calls [][2]int
	op.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
	sum, err := Train(context.Background(), cfg, op)
	if err != nil {
		t.Fatalf("%v\n%s", err, o.stderr.String())
	}
	if sum.Epochs != 3 || sum.BestEpoch < 1 || len(sum.History) != 3 {
		t.Fatalf("summary %+v", sum)
	}
	lines := strings.Split(strings.TrimSpace(o.stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("stdout has %d lines, want one per epoch:\n%s", len(lines), o.stdout.String())
	}
	for i, l := range lines {
		m := epochLineRE.FindStringSubmatch(l)
		if m == nil || m[1] != string(rune('1'+i)) || m[2] != "3" {
			t.Errorf("line %d does not match the tutorial's format: %q", i+1, l)
		}
	}
	// Lr printed after the scheduler step: epoch 1 trained at 3e-3 and
	// prints 3e-3*0.5.
	if !strings.Contains(lines[0], "Lr: 1.50E-03") || !strings.Contains(lines[2], "Lr: 3.75E-04") {
		t.Errorf("printed learning rates are not the post-step ones:\n%s", o.stdout.String())
	}
	// Each epoch counts its batches from 1 to the same total; the last
	// call of an epoch reports it whole.
	if len(calls) == 0 {
		t.Fatal("no progress reported")
	}
	total, rounds := calls[0][1], 0
	for i, c := range calls {
		if c[1] != total || c[0] < 1 || c[0] > total {
			t.Fatalf("progress call %d: %v, total %d", i, c, total)
		}
		if i > 0 && c[0] < calls[i-1][0] && calls[i-1][0] != total {
			t.Errorf("progress went back from %v to %v within an epoch", calls[i-1], c)
		}
		if c[0] == total && (i+1 == len(calls) || calls[i+1][0] < total) {
			rounds++
		}
	}
	if rounds != 3 {
		t.Errorf("progress completed %d rounds, want one per epoch: %v", rounds, calls)
	}
	if strings.Contains(o.stderr.String(), "\r") {
		t.Errorf("the trainer drew on stderr itself: %q", o.stderr.String())
	}

	for _, f := range []string{runs.ModelInfoFile, runs.BestFile, runs.LastFile, runs.HistoryFile, runs.CurvesFile, runs.SplitFile, runs.LogFile} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 8 {
		t.Errorf("run directory has %d entries, want exactly the 7 run files and the lock (no temporaries)", len(entries))
	}

	info, err := runs.ReadModelInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Model != tinyModel || info.Size != 16 || len(info.Classes) != 3 || info.Spec == nil ||
		info.BestEpoch != sum.BestEpoch || info.BestTestAcc != sum.BestTestAcc || info.Mean != data.DefaultMean ||
		info.Config.Epochs != 3 || info.Seed != 1 || !filepath.IsAbs(info.Data) {
		t.Errorf("model.json: %+v", info)
	}
	hist, _ := os.ReadFile(filepath.Join(out, runs.HistoryFile))
	rows := strings.Split(strings.TrimSpace(string(hist)), "\n")
	if len(rows) != 4 || rows[0] != runs.HistoryHeader || !strings.HasPrefix(rows[3], "3,") {
		t.Errorf("history.csv:\n%s", hist)
	}
	split, err := data.ReadSplit(filepath.Join(out, runs.SplitFile))
	if err != nil || len(split.Train)+len(split.Test) != 36 || len(split.Test) == 0 {
		t.Errorf("split.json: %v %+v", err, split)
	}
	log, _ := os.ReadFile(filepath.Join(out, runs.LogFile))
	for _, want := range []string{"starid train ", lines[0], lines[2], "best epoch 3 of 3"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("train.log lacks %q:\n%s", want, log)
		}
	}

	run, err := runs.OpenRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tensorBits(t, filepath.Join(out, runs.BestFile)), modelBits(t, run.Model); !equalBits(got, want) {
		t.Error("OpenRun's model does not hold best.safetensors")
	}
	if run.Info.BestEpoch != sum.BestEpoch {
		t.Errorf("OpenRun info %+v", run.Info)
	}
}

// modelBits is a model's state dict as written to a file.
func modelBits(t *testing.T, net nn.Layer) map[string][]uint64 {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := nn.SaveStateDict(path, net, nil); err != nil {
		t.Fatal(err)
	}
	return tensorBits(t, path)
}

func equalBits(a, b map[string][]uint64) bool { ok, _ := sameTensors(a, b); return ok }

// withoutOptim drops the optimizer entries of a last checkpoint.
func withoutOptim(m map[string][]uint64) map[string][]uint64 {
	out := map[string][]uint64{}
	for k, v := range m {
		if !strings.HasPrefix(k, nn.OptimPrefix) {
			out[k] = v
		}
	}
	return out
}

// TestBestIsNotLast forces test accuracies 50, 90, 30, 40%: best.safetensors
// must hold epoch 2's weights while last.safetensors holds epoch 4's.
func TestBestIsNotLast(t *testing.T) {
	dataDir := makeShapes(t, 3, 12)
	out := filepath.Join(t.TempDir(), "run")
	accs := []float64{0.5, 0.9, 0.3, 0.4}
	weights := map[int]map[string][]uint64{}
	h := &hooks{
		evaluated: func(r *runs.EpochRecord) { r.TestAcc = accs[r.Epoch-1] },
		committed: func(r runs.EpochRecord) error {
			weights[r.Epoch] = withoutOptim(tensorBits(t, filepath.Join(out, runs.LastFile)))
			return nil
		},
	}
	sum, o := mustTrain(t, tinyConfig(dataDir, out, 4), h)
	if sum.BestEpoch != 2 || sum.BestTestAcc != 0.9 {
		t.Fatalf("best epoch %d (%.2f), want 2 (0.90)", sum.BestEpoch, sum.BestTestAcc)
	}
	best := tensorBits(t, filepath.Join(out, runs.BestFile))
	if ok, where := sameTensors(best, weights[2]); !ok {
		t.Errorf("best.safetensors is not epoch 2's weights (differs at %s)", where)
	}
	if equalBits(best, weights[4]) || equalBits(weights[2], weights[4]) {
		t.Error("epoch 2 and epoch 4 weights are equal; the test cannot tell best from last")
	}
	if !equalBits(withoutOptim(tensorBits(t, filepath.Join(out, runs.LastFile))), weights[4]) {
		t.Error("last.safetensors is not epoch 4's weights")
	}
	lines := strings.Split(strings.TrimSpace(o.stdout.String()), "\n")
	for i, l := range lines {
		if marked := strings.HasSuffix(l, "(best)"); marked != (i < 2) {
			t.Errorf("epoch %d best marker %v: %q", i+1, marked, l)
		}
	}
	info, _ := runs.ReadModelInfo(out)
	if info.BestEpoch != 2 || info.BestTestAcc != 0.9 {
		t.Errorf("model.json best epoch %d acc %v", info.BestEpoch, info.BestTestAcc)
	}
}

// TestBestTieGoesToLowerLoss forces test accuracies 50, 90, 90, 90% with
// test losses 1, 0.8, 0.5, 0.7: epoch 3 is the best (equal accuracy, lower
// loss; epoch 4 does not beat it), and the log, history.csv, model.json
// and best.safetensors all say so.
func TestBestTieGoesToLowerLoss(t *testing.T) {
	dataDir := makeShapes(t, 3, 12)
	out := filepath.Join(t.TempDir(), "run")
	accs, losses := []float64{0.5, 0.9, 0.9, 0.9}, []float64{1, 0.8, 0.5, 0.7}
	var third map[string][]uint64
	h := &hooks{
		evaluated: func(r *runs.EpochRecord) { r.TestAcc, r.TestLoss = accs[r.Epoch-1], losses[r.Epoch-1] },
		committed: func(r runs.EpochRecord) error {
			if r.Epoch == 3 {
				third = withoutOptim(tensorBits(t, filepath.Join(out, runs.LastFile)))
			}
			return nil
		},
	}
	sum, o := mustTrain(t, tinyConfig(dataDir, out, 4), h)
	if sum.BestEpoch != 3 {
		t.Fatalf("best epoch %d, want 3", sum.BestEpoch)
	}
	if !equalBits(tensorBits(t, filepath.Join(out, runs.BestFile)), third) {
		t.Error("best.safetensors is not epoch 3's weights")
	}
	marked := []bool{true, true, true, false}
	for i, l := range strings.Split(strings.TrimSpace(o.stdout.String()), "\n") {
		if strings.HasSuffix(l, "(best)") != marked[i] {
			t.Errorf("log line %d: %q, want marked %v", i+1, l, marked[i])
		}
	}
	hist, _ := os.ReadFile(filepath.Join(out, runs.HistoryFile))
	for i, row := range strings.Split(strings.TrimSpace(string(hist)), "\n")[1:] {
		if strings.HasSuffix(row, ",true") != marked[i] {
			t.Errorf("history.csv row %d: %q, want best %v", i+1, row, marked[i])
		}
	}
	if info, _ := runs.ReadModelInfo(out); info.BestEpoch != 3 {
		t.Errorf("model.json best epoch %d, want 3", info.BestEpoch)
	}
	if !strings.Contains(o.stderr.String(), "best epoch 3 of 4: test accuracy 90.0%, test loss 0.500") {
		t.Errorf("the run's end does not name epoch 3:\n%s", o.stderr.String())
	}
}

var errKilled = errors.New("killed")

// TestResumeMatchesUninterrupted trains 4 epochs straight and, separately,
// stops a run after epoch 2 (abruptly, or by cancelling during epoch 3) and
// resumes it to 4: the checkpoints must be bit-identical, optimizer state
// included. Augmentation and dropout are on, so their random streams are
// covered too.
func TestResumeMatchesUninterrupted(t *testing.T) {
	dataDir := makeShapes(t, 3, 12)
	procs := []int{1}
	if n := runtime.NumCPU(); n > 1 {
		procs = append(procs, n)
	}
	for _, p := range procs {
		t.Run(fmt.Sprintf("workers=%d", p), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(p))
			testResume(t, dataDir, p)
		})
	}
}

func testResume(t *testing.T, dataDir string, procs int) {
	straight := filepath.Join(t.TempDir(), "straight")
	cfg := tinyConfig(dataDir, straight, 4)
	cfg.Augment = true
	full, _ := mustTrain(t, cfg, nil)
	wantLast := tensorBits(t, filepath.Join(straight, runs.LastFile))
	wantBest := tensorBits(t, filepath.Join(straight, runs.BestFile))
	if procs > 1 {
		// A resume can only match if the engine repeats itself.
		again := cfg
		again.Out = filepath.Join(t.TempDir(), "again")
		mustTrain(t, again, nil)
		if ok, where := sameTensors(tensorBits(t, filepath.Join(again.Out, runs.LastFile)), wantLast); !ok {
			// Conv2d's backward gives each worker a fixed range of images
			// so its per-worker weight-gradient sums repeat exactly; a
			// difference here means some reduction depends on timing.
			t.Fatalf("two uninterrupted runs with %d workers differ at %s: training is not deterministic", procs, where)
		}
	}

	for _, tc := range []struct {
		name string
		stop func(cancel context.CancelFunc) *hooks
	}{
		{"killed after epoch 2", func(context.CancelFunc) *hooks {
			return &hooks{committed: func(r runs.EpochRecord) error {
				if r.Epoch == 2 {
					return errKilled
				}
				return nil
			}}
		}},
		{"cancelled during epoch 3", func(cancel context.CancelFunc) *hooks {
			return &hooks{batch: func(epoch, batch int) {
				if epoch == 2 && batch == 1 {
					cancel()
				}
			}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			c := cfg
			c.Out = out
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var o runOutput
			_, err := Train(ctx, c, o.output(tc.stop(cancel)))
			if err == nil {
				t.Fatal("the interrupted run did not stop")
			}
			if !errors.Is(err, errKilled) && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			if errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "holds epoch 2; continue with --resume") {
				t.Errorf("interruption message: %v", err)
			}
			// Resume from flags that name only the data, the run and
			// --resume, as a user would type it.
			r := Config{Settings: runs.Settings{Data: dataDir, Out: out, Model: tinyModel, Resume: true, Given: []string{"model", "resume"}}}
			r = withDefaults(r)
			sum, ro := mustTrain(t, r, nil)
			if sum.Epochs != 4 || len(sum.History) != 4 {
				t.Fatalf("resumed run ended at epoch %d", sum.Epochs)
			}
			if !strings.Contains(ro.stderr.String(), "resuming") || strings.Count(ro.stdout.String(), "\n") != 2 {
				t.Errorf("resumed run should train epochs 3 and 4 only:\n%s\n%s", ro.stdout.String(), ro.stderr.String())
			}
			if ok, where := sameTensors(tensorBits(t, filepath.Join(out, runs.LastFile)), wantLast); !ok {
				t.Errorf("last.safetensors differs from the uninterrupted run's at %s", where)
			}
			if ok, where := sameTensors(tensorBits(t, filepath.Join(out, runs.BestFile)), wantBest); !ok {
				t.Errorf("best.safetensors differs from the uninterrupted run's at %s", where)
			}
			for i, h := range sum.History {
				w := full.History[i]
				h.DurationMS, w.DurationMS = 0, 0
				if h != w {
					t.Errorf("epoch %d: resumed %+v, straight %+v", i+1, h, w)
				}
			}
			hist, _ := os.ReadFile(filepath.Join(out, runs.HistoryFile))
			if n := strings.Count(string(hist), "\n"); n != 5 {
				t.Errorf("history.csv has %d lines, want header + 4", n)
			}
		})
	}
}

// withDefaults fills the settings a user leaves out with the defaults, as
// the command line does.
func withDefaults(c Config) Config {
	d := DefaultConfig()
	d.Data, d.Out, d.Model, d.Resume, d.Given, d.Workers = c.Data, c.Out, c.Model, c.Resume, c.Given, c.Workers
	return d
}

func TestRefusesToOverwrite(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Train(context.Background(), tinyConfig(dataDir, out, 1), Output{})
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("refused run still wrote %d files", len(entries)-1)
	}
}

// TestResumeChecksStoredSettings: --resume continues with model.json's
// settings, so those get the same checks as flags.
func TestResumeChecksStoredSettings(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	good := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, good, 1), nil)
	for _, tc := range []struct {
		name, key string
		value     any
		want      string
	}{
		{"schedule", "schedule", "bogus", "bogus"},
		{"batch", "batch", 0.0, "--batch 0"},
		{"optimizer", "optimizer", "rmsprop", `--optimizer "rmsprop"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			if err := os.CopyFS(out, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			editInfo(func(info map[string]any) { info["config"].(map[string]any)[tc.key] = tc.value })(out)
			c := tinyConfig(dataDir, out, 2)
			c.Resume, c.Given = true, []string{"epochs"}
			_, err := Train(context.Background(), c, Output{})
			if err == nil || !strings.Contains(err.Error(), runs.ModelInfoFile+": the run's stored settings") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want the stored settings named with %q", err, tc.want)
			}
		})
	}
}

func TestResumeRefusesOtherSettings(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	out := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)

	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		given []string
		want  []string // substrings of the error; nil means it must succeed
	}{
		{"lr and seed", func(c *Config) { c.LR, c.Seed = 0.1, 9 }, []string{"lr", "seed"},
			[]string{`--lr: run has "0.003", flags say "0.1"`, `--seed: run has "1", flags say "9"`}},
		{"size", func(c *Config) { c.Size = 32 }, []string{"size"}, []string{"--size"}},
		{"width", func(c *Config) { c.Width = 0.5 }, []string{"width"}, []string{`--width: run has "1", flags say "0.5"`}},
		{"other data", func(c *Config) { c.Data = t.TempDir() }, nil, []string{"--data"}},
		{"not given is taken from the run", func(c *Config) { c.LR, c.Size = 0.5, 99 }, []string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig(dataDir, out, 2)
			c.Resume = true
			tc.edit(&c)
			c.Given = tc.given
			if tc.given == nil && tc.want != nil {
				c.Given = []string{}
			}
			_, err := Train(context.Background(), c, Output{})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("resume with different settings was accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
	if _, err := Train(context.Background(), Config{Settings: runs.Settings{Data: dataDir, Out: filepath.Join(out, "nope"), Model: tinyModel,
		Resume: true}}, Output{}); err == nil {
		t.Error("resuming a directory that is not a run was accepted")
	}
}

func TestSkippedFilesListedAndTrainingGoesOn(t *testing.T) {
	dataDir := makeShapes(t, 3, 6)
	bad := map[string][]byte{
		"classA/empty.png":     nil,
		"classB/notes.jpg":     []byte("this is not a photo at all"),
		"classC/truncated.png": nil, // filled below
	}
	good, _ := os.ReadFile(filepath.Join(dataDir, "classC", "00.png"))
	bad["classC/truncated.png"] = good[:len(good)/2]
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(dataDir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A photo damaged in the middle passes the scan (which checks how
	// files end) and fails only when the loader decodes it.
	damaged := filepath.Join(dataDir, "classA", "03.png")
	b, _ := os.ReadFile(damaged)
	for i := len(b) / 3; i < len(b)/2; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	sum, o := mustTrain(t, tinyConfig(dataDir, out, 2), nil)
	if sum.Skipped != 3 || sum.Epochs != 2 {
		t.Fatalf("skipped %d, epochs %d", sum.Skipped, sum.Epochs)
	}
	if sum.History[0].Skipped != 1 || sum.History[1].Skipped != 0 {
		t.Errorf("images left out per epoch: %d, %d; want 1 then 0 (the loader drops it for good)",
			sum.History[0].Skipped, sum.History[1].Skipped)
	}
	if !strings.Contains(o.stderr.String(), "epoch 1: 1 image(s) could not be read") {
		t.Errorf("no per-epoch count of unreadable images:\n%s", o.stderr.String())
	}
	log, _ := os.ReadFile(filepath.Join(out, runs.LogFile))
	if !strings.Contains(string(log), damaged) {
		t.Errorf("train.log does not name the damaged photo %s:\n%s", damaged, log)
	}
	for name := range bad {
		for what, text := range map[string]string{"stderr": o.stderr.String(), "train.log": string(log)} {
			if !strings.Contains(text, filepath.FromSlash(name)+": ") {
				t.Errorf("%s does not list %s with a reason:\n%s", what, name, text)
			}
		}
	}
	if !strings.Contains(o.stderr.String(), "skipping 3 unusable file(s)") {
		t.Errorf("no count of skipped files:\n%s", o.stderr.String())
	}
}

func TestWriteFileAtomicKeepsOldFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.json")
	if err := writeFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "old"); return err }); err != nil {
		t.Fatal(err)
	}
	err := writeFileAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "new, half writ")
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file now holds %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left in the directory, want only the target", len(entries))
	}
}

// failAfter is a writer that fails once n bytes have passed (a full disk).
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k, _ := f.w.Write(p[:f.n])
		f.n = 0
		return k, errors.New("no space left on device")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestCheckpointSurvivesFailedWrite: a checkpoint write that fails part way
// leaves the previous checkpoint intact and no temporary behind.
func TestCheckpointSurvivesFailedWrite(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	out := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, out, 1), nil)
	last := filepath.Join(out, runs.LastFile)
	before, _ := os.ReadFile(last)

	wrapWriter = func(w io.Writer) io.Writer { return &failAfter{w: w, n: 200} }
	defer func() { wrapWriter = func(w io.Writer) io.Writer { return w } }()
	c := tinyConfig(dataDir, out, 2)
	c.Resume = true
	_, err := Train(context.Background(), c, Output{})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(last); string(after) != string(before) {
		t.Error("the failed write changed last.safetensors")
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	wrapWriter = func(w io.Writer) io.Writer { return w }
	sum, _ := mustTrain(t, c, nil)
	if sum.Epochs != 2 {
		t.Errorf("resume after the failure ended at epoch %d", sum.Epochs)
	}
}

// editInfo returns an edit of a run folder's model.json, made through a
// generic JSON tree as a person with an editor would.
func editInfo(edit func(info map[string]any)) func(dir string) {
	return func(d string) {
		var info map[string]any
		b, _ := os.ReadFile(filepath.Join(d, runs.ModelInfoFile))
		json.Unmarshal(b, &info)
		edit(info)
		b, _ = json.Marshal(info)
		os.WriteFile(filepath.Join(d, runs.ModelInfoFile), b, 0o644)
	}
}

func firstLayer(info map[string]any) map[string]any {
	return info["spec"].(map[string]any)["layers"].([]any)[0].(map[string]any)
}

func TestOpenRunErrors(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	good := filepath.Join(t.TempDir(), "run")
	mustTrain(t, tinyConfig(dataDir, good, 1), nil)

	copyRun := func(t *testing.T, edit func(dir string)) string {
		dir := t.TempDir()
		for _, f := range []string{runs.ModelInfoFile, runs.BestFile} {
			b, _ := os.ReadFile(filepath.Join(good, f))
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
		edit(dir)
		return dir
	}
	for _, tc := range []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"missing model.json", func(d string) { os.Remove(filepath.Join(d, runs.ModelInfoFile)) }, runs.ModelInfoFile + ": missing"},
		{"corrupt model.json", func(d string) { os.WriteFile(filepath.Join(d, runs.ModelInfoFile), []byte("{"), 0o644) }, runs.ModelInfoFile + ": corrupt"},
		{"missing best", func(d string) { os.Remove(filepath.Join(d, runs.BestFile)) }, runs.BestFile + ": missing"},
		{"truncated best", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, runs.BestFile))
			os.WriteFile(filepath.Join(d, runs.BestFile), b[:len(b)-10], 0o644)
		}, runs.BestFile},
		{"weights of another architecture", editInfo(func(info map[string]any) {
			firstLayer(info)["kernel"], firstLayer(info)["padding"] = 5.0, 2.0
		}), runs.BestFile},
		{"layers that do not fit together", editInfo(func(info map[string]any) { firstLayer(info)["out"] = 4.0 }),
			runs.ModelInfoFile + ": the network does not take 16x16 images"},
		// Hand-edited or damaged model.json files: refused with the file
		// named, before anything is allocated from them.
		{"negative padding", editInfo(func(info map[string]any) { firstLayer(info)["padding"] = -1.0 }),
			`: layer "0" (conv2d): padding must not be negative`},
		{"huge layer", editInfo(func(info map[string]any) { firstLayer(info)["out"] = 2e9 }), "this starid allows"},
		{"one class more than the network has", editInfo(func(info map[string]any) {
			info["classes"] = append(info["classes"].([]any), "extra")
		}), runs.ModelInfoFile + ": corrupt: the network maps"},
		{"input too small for the network", editInfo(func(info map[string]any) { info["size"] = 1.0 }),
			runs.ModelInfoFile + ": the network does not take 1x1 images"},
		{"huge input size", editInfo(func(info map[string]any) { info["size"] = 1e8 }), "input size 100000000 is beyond"},
		{"zero std", editInfo(func(info map[string]any) { info["std"] = []any{0.0, 0.2, 0.2} }), "std must be positive"},
		{"repeated class", editInfo(func(info map[string]any) {
			cl := info["classes"].([]any)
			cl[1] = cl[0]
		}), "appears twice"},
		{"class name with a path", editInfo(func(info map[string]any) { info["classes"].([]any)[0] = "../up" }),
			`class name "../up" holds a path separator`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runs.OpenRun(copyRun(t, tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := runs.OpenRun(filepath.Join(good, "absent")); err == nil || !strings.Contains(err.Error(), "no such run directory") {
		t.Errorf("absent dir: %v", err)
	}
}

func TestConfigRefusesFace(t *testing.T) {
	// Face runs are package identify's; train.Train cannot make one.
	c := tinyConfig("data", "out", 1)
	c.Model = "face"
	if err := CheckConfig(c); err == nil || !strings.Contains(err.Error(), "internal/identify") {
		t.Errorf("--model face: err = %v", err)
	}
}

func TestConfigCrop(t *testing.T) {
	for _, tc := range []struct {
		crop   string
		margin float64
		want   string // "" = accepted
	}{
		{"face", 0.25, ""},
		{"face", 0, ""},
		{"face", 2, ""},
		{"none", -1, ""}, // the margin is ignored without face crops
		{"face", -0.1, "--crop-margin -0.1: must be between 0 and 2"},
		{"face", 2.5, "--crop-margin 2.5"},
		{"hair", 0.25, `--crop "hair": want face, aligned or none`},
		{"aligned", 0.5, ""},
		{"aligned", 0, ""},
		{"aligned", -0.5, "--crop-margin -0.5: must be between 0 and 2"},
		{"aligned", 3, "--crop-margin 3: must be between 0 and 2"},
	} {
		c := tinyConfig("data", "out", 1)
		c.Crop, c.CropMargin = facecrop.Mode(tc.crop), tc.margin
		err := CheckConfig(c)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("crop %s margin %v: err = %v, want %q", tc.crop, tc.margin, err, tc.want)
		}
	}
}

// --width reaches the network: a VGG at 1/16 width trains, and model.json
// holds the narrow spec and the width, so OpenRun rebuilds the same net.
func TestTrainWidth(t *testing.T) {
	dataDir := makeShapes(t, 3, 4)
	out := filepath.Join(t.TempDir(), "run")
	c := tinyConfig(dataDir, out, 1)
	c.Model, c.Width, c.Size = "vgg16-convbn-dropout-light", 1.0/16, 32
	mustTrain(t, c, nil)
	run, err := runs.OpenRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Config.Width != 1.0/16 {
		t.Errorf("model.json width %v", run.Info.Config.Width)
	}
	if got := run.Info.Spec.Layers[0].Children[0].Out; got != 4 {
		t.Errorf("block1 conv has %d channels, want 64/16 = 4", got)
	}
	for _, w := range []float64{-1, 3} {
		c.Width = w
		if err := CheckConfig(c); err == nil || !strings.Contains(err.Error(), "--width") {
			t.Errorf("width %v: %v", w, err)
		}
	}
}
