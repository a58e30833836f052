package models

import (
	"errors"
	"strings"
	"testing"

	"starid/internal/cli"
)

func TestSummarize(t *testing.T) {
	s, err := Summarize("vgg16", 5, 0.25, 2, 32)
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != "vgg16" || s.Summary == nil {
		t.Fatalf("summary %+v", s)
	}
	var b strings.Builder
	if err := s.WriteTable(&b); err != nil || !strings.Contains(b.String(), "[2, 5]") {
		t.Errorf("table lacks the output shape [2, 5]: %v\n%s", err, b.String())
	}
	for _, c := range []struct {
		name        string
		batch, size int
		want        string
	}{
		{"", 1, 32, "--model is required (one of vgg16"},
		{"vgg16", 0, 32, "--size and --batch must be positive"},
		{"vgg99", 1, 32, "vgg99"},
	} {
		_, err := Summarize(c.name, 5, 1, c.batch, c.size)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, new(cli.UsageError)) {
			t.Errorf("%+v: %v, want a usage error with %q", c, err, c.want)
		}
	}
}
