package bench

import (
	"starid/internal/cli"
	"starid/internal/models"
)

// CheckRepeats refuses step counts that time nothing.
func CheckRepeats(steps, warmup int) error {
	if steps < 1 {
		return cli.Usagef("--steps %d: must be positive", steps)
	}
	if warmup < 0 {
		return cli.Usagef("--warmup %d: must be 0 or more", warmup)
	}
	return nil
}

// Check refuses a ModelConfig that Model cannot time, as usage errors.
func (c ModelConfig) Check() error {
	if err := models.Required(c.Model); err != nil {
		return err
	}
	if !cli.OneOf(c.Mode, "train", "infer") {
		return cli.Usagef("--mode must be train or infer, got %q", c.Mode)
	}
	if err := models.CheckInput(c.Size, c.Batch); err != nil {
		return err
	}
	if _, err := models.ByNameWidth(c.Model, c.Classes, c.Width); err != nil {
		return cli.Usagef("%v", err)
	}
	return nil
}
