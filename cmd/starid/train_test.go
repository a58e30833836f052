package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/data"
)

func TestTrainRefusals(t *testing.T) {
	data := t.TempDir()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "model.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"face crop", []string{data, "--model", "vgg16", "--out", "r", "--crop", "face"}, exitUsage, "needs the face models (issue 4)"},
		{"face model", []string{data, "--model", "face", "--out", "r"}, exitUsage, "needs the face models (issue 4)"},
		{"no out", []string{data, "--model", "vgg16"}, exitUsage, "--out is required"},
		{"no model", []string{data, "--out", "r"}, exitUsage, "--model is required"},
		{"no data", []string{"--model", "vgg16", "--out", "r"}, exitUsage, "one data folder"},
		{"bad optimizer", []string{data, "--model", "vgg16", "--out", "r", "--optimizer", "rmsprop"}, exitUsage, "rmsprop"},
		{"bad schedule", []string{data, "--model", "vgg16", "--out", "r", "--schedule", "step:x:4"}, exitUsage, "gamma"},
		{"unknown model", []string{data, "--model", "vgg99", "--out", "r"}, exitUsage, "vgg99"},
		{"negative workers", []string{data, "--model", "vgg16", "--out", "r", "--workers", "-2"}, exitUsage, "--workers -2: must be 0"},
		{"existing run", []string{data, "--model", "vgg16", "--out", full}, exitInput, "not empty"},
		{"resume nothing", []string{data, "--model", "vgg16", "--out", filepath.Join(full, "x"), "--resume"}, exitInput, "nothing to resume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"train"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.want)
			}
		})
	}
}

// TestTrainBadDataLeavesNoRun covers inputs that only show up once the data
// is scanned: each must fail with an input error naming the problem, and
// must not leave a half-made run folder that would block a corrected rerun
// with the same --out ("exists and is not empty").
func TestTrainBadDataLeavesNoRun(t *testing.T) {
	one := filepath.Join(t.TempDir(), "one")
	if err := data.Synthesize(one, 2, 6, 32, 1); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(one, "square")); err != nil {
		t.Fatal(err)
	}
	// Two classes of one photo each: nothing left for the test split.
	single := filepath.Join(t.TempDir(), "single")
	for _, c := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(single, c), 0o755); err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(one, "circle", "circle_000.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(single, c, "x.png"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := filepath.Join(t.TempDir(), "good")
	if err := data.Synthesize(good, 2, 6, 32, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, size, want string
	}{
		{"one class", one, "32", "only one class (circle)"},
		{"one photo per class", single, "32", "0 test images"},
		{"size too small for VGG", good, "16", "--size 16 is too small for vgg16-bn-dropout-light"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			code, _, stderr := runCLI("train", tc.data, "--model", "vgg16-bn-dropout-light", "--size", tc.size,
				"--epochs", "1", "--batch", "2", "--out", out)
			if code != exitInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, exitInput, stderr, tc.want)
			}
			if entries, err := os.ReadDir(out); err == nil {
				t.Errorf("failed run left %s behind with %d entries", out, len(entries))
			}
		})
	}
}

// TestTrainResumeDamagedCheckpoint: --resume on a run whose last.safetensors
// was cut short fails with an input error naming the file, and leaves the
// run's files as they were.
func TestTrainResumeDamagedCheckpoint(t *testing.T) {
	shapes := filepath.Join(t.TempDir(), "shapes")
	if err := data.Synthesize(shapes, 2, 4, 32, 1); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	args := []string{"train", shapes, "--model", "vgg16-bn-dropout-light", "--size", "32", "--batch", "4", "--out", run}
	if code, _, stderr := runCLI(append(args, "--epochs", "1")...); code != exitOK {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	last := filepath.Join(run, "last.safetensors")
	if err := os.Truncate(last, 1000); err != nil {
		t.Fatal(err)
	}
	before := map[string][]byte{}
	for _, name := range []string{"model.json", "history.csv", "split.json", "best.safetensors", "last.safetensors"} {
		b, err := os.ReadFile(filepath.Join(run, name))
		if err != nil {
			t.Fatal(err)
		}
		before[name] = b
	}
	code, _, stderr := runCLI(append(args, "--epochs", "2", "--resume")...)
	if code != exitInput || !strings.Contains(stderr, "cannot resume from "+last) {
		t.Errorf("exit %d (want %d), stderr %q", code, exitInput, stderr)
	}
	for name, b := range before {
		if now, err := os.ReadFile(filepath.Join(run, name)); err != nil || string(now) != string(b) {
			t.Errorf("%s changed by the refused resume (%v)", name, err)
		}
	}
}
