package bench

import (
	"errors"
	"strings"
	"testing"

	"starid/internal/cli"
)

func TestChecks(t *testing.T) {
	ok := ModelConfig{Model: "vgg16", Mode: "Infer", Classes: 3, Size: 32, Batch: 1, Steps: 1, Width: 1}
	if err := ok.Check(); err != nil {
		t.Errorf("%+v: %v", ok, err)
	}
	bad := func(c ModelConfig, f func(*ModelConfig)) ModelConfig { f(&c); return c }
	for _, c := range []struct {
		err  error
		want string
	}{
		{CheckRepeats(0, 0), "--steps 0"},
		{CheckRepeats(1, -1), "--warmup -1"},
		{bad(ok, func(c *ModelConfig) { c.Model = "" }).Check(), "--model is required"},
		{bad(ok, func(c *ModelConfig) { c.Mode = "both" }).Check(), `--mode must be train or infer, got "both"`},
		{bad(ok, func(c *ModelConfig) { c.Batch = 0 }).Check(), "--size and --batch"},
		{bad(ok, func(c *ModelConfig) { c.Width = -1 }).Check(), "width"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || !errors.As(c.err, new(cli.UsageError)) {
			t.Errorf("got %v, want a usage error with %q", c.err, c.want)
		}
	}
	if err := CheckRepeats(1, 0); err != nil {
		t.Error(err)
	}
}
