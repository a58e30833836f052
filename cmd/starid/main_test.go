package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/bench"
	"starid/internal/faces"
	"starid/internal/tensor"
)

// substitute sets the package variable *p to v until the test ends: the
// commands reach models, describers and listeners through such variables,
// which tests point at fakes.
func substitute[T any](t *testing.T, p *T, v T) {
	t.Helper()
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

// findWith makes the face commands find faces with f until the test ends.
func findWith(t *testing.T, f faceFinder) {
	t.Helper()
	substitute(t, &openFaceFinder, func(faces.DetectorChoice) (faceFinder, error) { return f, nil })
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestSummaryJSONTotals(t *testing.T) {
	for model, want := range map[string]int{
		"vgg16": 134330193, "vgg16-bn": 134333137, "vgg16-bn-dropout": 134333137, "vgg16-bn-dropout-light": 15144145,
	} {
		code, out, errOut := runCLI("summary", "--model", model, "--classes", "17", "--size", "224", "--json")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", model, code, errOut)
		}
		var s struct {
			TotalParams     int `json:"total_params"`
			TrainableParams int `json:"trainable_params"`
			Layers          []struct {
				Name        string `json:"name"`
				OutputShape []int  `json:"output_shape"`
			} `json:"layers"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%s: %v\n%s", model, err, out)
		}
		if s.TotalParams != want || s.TrainableParams != want {
			t.Errorf("%s: total %d trainable %d, want %d", model, s.TotalParams, s.TrainableParams, want)
		}
		if last := s.Layers[len(s.Layers)-1]; last.Name != "classifier."+map[bool]string{true: "0", false: "4"}[strings.HasSuffix(model, "light")] ||
			len(last.OutputShape) != 2 || last.OutputShape[1] != 17 {
			t.Errorf("%s: last layer %+v", model, last)
		}
	}
}

func TestSummaryTable(t *testing.T) {
	code, out, _ := runCLI("summary", "--model", "vgg16-bn-dropout-light", "--size", "64")
	if code != exitOK || !strings.Contains(out, "Total params: 15,144,145") || !strings.Contains(out, "block5.6: BatchNorm2d(512") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
}

func TestBenchJSON(t *testing.T) {
	for _, mode := range []string{"train", "infer"} {
		code, out, errOut := runCLI("bench", "--model", "vgg16-bn-dropout-light", "--size", "32", "--batch", "2",
			"--steps", "2", "--warmup", "0", "--mode", mode, "--json")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", mode, code, errOut)
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		for _, k := range []string{"median_ms", "min_ms", "peak_rss_mb"} {
			if v, ok := r[k].(float64); !ok || v <= 0 {
				t.Errorf("%s: %s = %v", mode, k, r[k])
			}
		}
	}
}

// TestBenchProfile: --profile lists every convolution and linear layer
// with its arithmetic, in the text table and in the JSON.
func TestBenchProfile(t *testing.T) {
	args := []string{"bench", "--model", "vgg16-bn-dropout-light", "--width", "0.125", "--size", "32", "--batch", "2",
		"--steps", "1", "--warmup", "1", "--profile"}
	code, out, errOut := runCLI(args...)
	if code != exitOK || !strings.Contains(out, "fwd GFLOP/s") || !strings.Contains(out, "block1.0") ||
		!strings.Contains(out, "Conv2d(3, 8") || !strings.Contains(out, "total") {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	code, out, errOut = runCLI(append(args, "--json")...)
	var r struct {
		Profile []struct {
			Path     string
			FLOP     float64
			Forwards int
		} `json:"profile"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != exitOK || err != nil {
		t.Fatalf("exit %d %v: %s\n%s", code, err, errOut, out)
	}
	convs := 0
	for _, p := range r.Profile {
		if p.Forwards != 1 {
			t.Errorf("%s: %d forwards profiled, want the 1 timed step (warm-up excluded)", p.Path, p.Forwards)
		}
		if p.FLOP > 0 {
			convs++
		}
	}
	if convs != 13+1 { // VGG16's 13 convolutions and the light head's one linear layer
		t.Errorf("%d layers with arithmetic in the profile, want 14: %+v", convs, r.Profile)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "Usage"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"summary"}, exitUsage, "--model is required"},
		{[]string{"summary", "--model", "vgg19"}, exitUsage, `unknown model "vgg19"`},
		{[]string{"summary", "--model", "vgg16", "--size", "0"}, exitUsage, "must be positive"},
		{[]string{"summary", "--model", "vgg16", "--bogus"}, exitUsage, "bogus"},
		{[]string{"bench", "--model", "vgg16", "--mode", "fly"}, exitUsage, "--mode must be train or infer"},
		// Too small for five 2x2 poolings: an input error naming the layer.
		{[]string{"summary", "--model", "vgg16", "--size", "16"}, exitInput, "block5"},
		// Negative counts are refused by name instead of silently taken as defaults.
		{[]string{"bench", "--model", "vgg16", "--warmup", "-1"}, exitUsage, "--warmup -1: must be 0 or more"},
		{[]string{"eval", "no-such-run", "--workers", "-1"}, exitUsage, "--workers -1: must be 0"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("starid %v: exit %d, stderr %q; want exit %d containing %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// Help that is asked for is output: `starid help CMD` and `starid CMD
// --help` print the command's own help to stdout, the same text, and exit
// 0; flags are listed with two dashes, and sentinel defaults say what they
// mean.
func TestHelpConventions(t *testing.T) {
	for _, cmd := range []string{"train", "predict", "eval", "faces", "serve", "enroll", "bench", "summary"} {
		code, out, errOut := runCLI(cmd, "--help")
		if code != exitOK || errOut != "" || strings.Count(out, "Usage:") != 1 || !strings.Contains(out, "starid "+cmd) {
			t.Errorf("starid %s --help: exit %d, stderr %q, stdout:\n%s", cmd, code, errOut, out)
		}
		code, viaHelp, errOut := runCLI("help", cmd)
		if code != exitOK || errOut != "" || viaHelp != out {
			t.Errorf("starid help %s: exit %d, stderr %q, and stdout differs from --help:\n%s", cmd, code, errOut, viaHelp)
		}
	}
	_, out, _ := runCLI("train", "--help")
	for _, want := range []string{"--crop string", "--model NAME", "--resume "} {
		if !strings.Contains(out, want) {
			t.Errorf("train --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " -model") || strings.Contains(out, " -crop") {
		t.Errorf("train --help lists single-dash flags:\n%s", out)
	}
	_, out, _ = runCLI("predict", "--help")
	if !strings.Contains(out, "(default the run's calibrated threshold)") || strings.Contains(out, "default -1") {
		t.Errorf("predict --help shows --threshold's sentinel default:\n%s", out)
	}
	code, out, errOut := runCLI("help")
	if code != exitOK || errOut != "" || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "predict") {
		t.Errorf("starid help: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
}

// A wrong flag or a mistyped command is two lines on stderr: what is wrong
// (with a suggestion where one helps) and where the usage is; no usage dump.
func TestUsageErrorLines(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"train", "--bogus"}, "starid train: unknown flag: --bogus\nRun 'starid train --help' for usage.\n"},
		{[]string{"predict", "-json"}, "starid predict: unknown shorthand flag: 'j' in -json (long flags take two dashes: --json)\n" +
			"Run 'starid predict --help' for usage.\n"},
		{[]string{"trian", "--model", "x"}, "starid: unknown command \"trian\"; did you mean train?\nRun 'starid --help' for usage.\n"},
		{[]string{"data", "stat", "x"}, "starid data: unknown sub-command \"stat\" (want grid, stats, synth); did you mean stats?\n" +
			"Run 'starid data --help' for usage.\n"},
		{[]string{"summary", "--size", "x"}, "starid summary: invalid argument \"x\" for \"--size\" flag: strconv.ParseInt: parsing \"x\": invalid syntax\n" +
			"Run 'starid summary --help' for usage.\n"},
	}
	for _, c := range cases {
		code, out, errOut := runCLI(c.args...)
		if code != exitUsage || out != "" || errOut != c.want {
			t.Errorf("starid %v: exit %d, stdout %q, stderr\n%q\nwant\n%q", c.args, code, out, errOut, c.want)
		}
	}
}

// starid completion SHELL prints cobra's script for that shell.
func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_starid", "zsh": "#compdef starid", "fish": "complete -c starid"} {
		code, out, errOut := runCLI("completion", shell)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, script lacks %q", shell, code, errOut, want)
		}
	}
	// The scripts ask the binary itself for candidates.
	code, out, _ := runCLI("__complete", "tra")
	if code != exitOK || !strings.Contains(out, "train") {
		t.Errorf("__complete tra: exit %d, %q", code, out)
	}
}

// starid version names what the binary runs: its GEMM backend and kernels
// and the face model versions, the same values bench reports.
func TestVersion(t *testing.T) {
	code, out, errOut := runCLI("version", "--json")
	var v bench.Build
	if err := json.Unmarshal([]byte(out), &v); code != exitOK || err != nil {
		t.Fatalf("exit %d %v: %s\n%s", code, err, errOut, out)
	}
	if v.Backend != tensor.Backend || v.Kernel != tensor.KernelFamily() || v.Pipeline != faces.PipelineVersion || v.Commit == "" || v.CPU == "" {
		t.Errorf("version %+v", v)
	}
	code, out, _ = runCLI("version")
	if code != exitOK || !strings.Contains(out, "gemm: "+tensor.Backend) || !strings.Contains(out, faces.PackageSpec) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// A huge --workers is cut to a few per core, with a note, by every
// command that takes it (each fails afterwards on a missing folder, so
// nothing runs); a negative one is a usage error.
func TestWorkersCapped(t *testing.T) {
	useFakeFaces(t)
	useFakeLibrary(t)
	dir := t.TempDir()
	none := filepath.Join(dir, "none")
	huge := "1000000000"
	for _, args := range [][]string{
		{"train", none, "--model", "vgg16", "--out", filepath.Join(dir, "run")},
		{"eval", "--data", none},
		{"enroll", none, "Zoe", filepath.Join(dir, "p.png")},
		{"index", none, "--db", filepath.Join(dir, "lib.db")},
	} {
		code, _, errOut := runCLI(append(args, "--workers", huge)...)
		if code != exitInput || !strings.HasPrefix(errOut, "note: --workers "+huge+" cut to ") {
			t.Errorf("%s --workers %s: exit %d: %s", args[0], huge, code, errOut)
		}
		code, _, errOut = runCLI(append(args, "--workers", "-1")...)
		if code != exitUsage || !strings.Contains(errOut, "--workers -1: must be 0 (one per core) or more") {
			t.Errorf("%s --workers -1: exit %d: %s", args[0], code, errOut)
		}
	}
}
