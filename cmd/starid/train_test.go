package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
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
		{"bad crop", []string{data, "--model", "vgg16", "--out", "r", "--crop", "hair"}, exitUsage, `--crop "hair": want face, aligned or none`},
		{"face resume", []string{data, "--model", "face", "--out", "r", "--resume"}, exitUsage, "--resume"},
		{"face size", []string{data, "--model", "face", "--out", "r", "--size", "64"}, exitUsage, "--size does not apply"},
		{"exclude on vgg", []string{data, "--model", "vgg16", "--out", "r", "--exclude", "a"}, exitUsage, "--exclude applies to --model face only"},
		{"width on face runs", []string{data, "--model", "face", "--out", "r", "--width", "0.5"}, exitUsage, "--width applies to the VGG models only"},
		{"width too wide", []string{data, "--model", "vgg16", "--out", "r", "--width", "3"}, exitUsage, "--width 3: must be above 0 and at most 2"},
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

// TestTrainFace: a face run through the command line has the run folder
// of a VGG run, lists photos without a face, and a second run over the
// same photos describes none of them again.
func TestTrainFace(t *testing.T) {
	fake := useFakeFaces(t)
	photos, run := faceRun(t, facePeople[:3])
	if fake.Calls() != 32 {
		t.Errorf("%d describer calls for 32 photos", fake.Calls())
	}
	for _, f := range []string{"model.json", "best.safetensors", "last.safetensors", "history.csv", "curves.png", "split.json", "train.log"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run file: %v", err)
		}
	}
	log, _ := os.ReadFile(filepath.Join(run, "train.log"))
	for _, want := range []string{"Ann/90.png: no face found", "Ann/91.png: no face found", "Epoch: 20/20", "unknown rule: distance"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("train.log lacks %q:\n%s", want, log)
		}
	}
	hist, _ := os.ReadFile(filepath.Join(run, "history.csv"))
	if n := strings.Count(string(hist), "\n"); n != 21 {
		t.Errorf("history.csv has %d lines, want header + 20", n)
	}
	// Same photos, another run: all from the cache; same split as VGG.
	run2 := filepath.Join(t.TempDir(), "run2")
	code, out, errOut := runCLI("train", photos, "--model", "face", "--out", run2, "--epochs", "3")
	if code != exitOK || fake.Calls() != 32 || !strings.Contains(errOut, "0 computed, 32 from the cache") {
		t.Errorf("second run: exit %d, %d calls:\n%s", code, fake.Calls(), errOut)
	}
	if strings.Count(out, "Epoch: ") != 3 || !strings.Contains(out, "Lr: 1.00E-03") {
		t.Errorf("face defaults (lr 1e-3, no schedule) not used:\n%s", out)
	}
	// --json: the summary alone on stdout, the epochs on stderr.
	run3 := filepath.Join(t.TempDir(), "run3")
	code, out, errOut = runCLI("train", photos, "--model", "face", "--out", run3, "--epochs", "2", "--json")
	var res runs.Summary
	if err := json.Unmarshal([]byte(out), &res); code != exitOK || err != nil || res.Run != run3 || res.Model != "face" ||
		res.Epochs != 2 || len(res.Classes) == 0 || res.UnknownThreshold == nil || !strings.Contains(errOut, "Epoch: ") {
		t.Errorf("--json: exit %d %v %+v\nstdout %s\nstderr %s", code, err, res, out, errOut)
	}
	s1, _ := os.ReadFile(filepath.Join(run, "split.json"))
	s2, _ := os.ReadFile(filepath.Join(run2, "split.json"))
	if string(s1) != string(s2) {
		t.Error("two face runs with the same seed split differently")
	}
	// The split a VGG run makes (train.Train calls exactly this).
	_, split := scanSplit(t, photos, 0.8)
	want := filepath.Join(t.TempDir(), "split.json")
	if err := split.WriteFile(want); err != nil {
		t.Fatal(err)
	}
	if s3, _ := os.ReadFile(want); string(s3) != string(s1) {
		t.Error("the face run's split differs from a VGG run's with the same seed")
	}
}

func TestTrainFaceMissingWeights(t *testing.T) {
	useFakeFaces(t)
	newDescriber = func(faces.DetectorChoice) identify.Describer {
		return identify.Lazy(func() (identify.Describer, error) {
			return nil, errors.New("the pretrained face models are missing; run `starid models fetch`")
		})
	}
	photos := filepath.Join(t.TempDir(), "photos")
	if err := identifytest.Folder(photos, facePeople[:2], 3, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "run")
	code, _, errOut := runCLI("train", photos, "--model", "face", "--out", out)
	if code != exitInput || !strings.Contains(errOut, "starid models fetch") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("failed face run left its folder behind")
	}
}

// train --json for a VGG run: the best epoch and its accuracy.
func TestTrainJSONVGG(t *testing.T) {
	shapes := filepath.Join(t.TempDir(), "shapes")
	if err := data.Synthesize(shapes, 2, 4, 32, 1); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(t.TempDir(), "run")
	code, out, errOut := runCLI("train", shapes, "--model", "vgg16-bn-dropout-light", "--width", "0.125", "--size", "32",
		"--epochs", "1", "--batch", "4", "--out", run, "--json")
	var res runs.Summary
	if err := json.Unmarshal([]byte(out), &res); code != exitOK || err != nil || res.Run != run || res.Epochs != 1 || res.BestEpoch != 1 ||
		res.Classes != nil || res.TestAccuracy < 0 || res.TestAccuracy > 1 {
		t.Errorf("exit %d %v %+v\nstdout %s\nstderr %s", code, err, res, out, errOut)
	}
}
