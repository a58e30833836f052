package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
