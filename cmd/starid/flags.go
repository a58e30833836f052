package main

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	clix "starid/internal/cli"
	"starid/internal/faces"
	"starid/internal/identify"
)

// Flags several commands share, worded once.

func modelFlag(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "model", "", "model `NAME`: "+modelNames())
}

// noThreshold is --threshold's sentinel: not given, the run's own.
const noThreshold = -1

func thresholdFlag(f *pflag.FlagSet, p *float64) {
	f.Float64Var(p, "threshold", noThreshold, "unknown threshold instead of the run's: the descriptor distance for face runs, the top probability otherwise")
	showDefault(f, "threshold", "the run's calibrated threshold")
}

// threshold is --threshold when given (checked), else nil: the run's.
func threshold(f *pflag.FlagSet, v float64) (*float64, error) {
	if !f.Changed("threshold") {
		return nil, nil
	}
	if !(v >= 0) {
		return nil, usagef("--threshold %v: must be 0 or more", v)
	}
	return &v, nil
}

// withThreshold is the run function of a command with --threshold: it
// checks the flag, then hands run the threshold to use (nil: the run's).
func withThreshold(v *float64, run func(c *cobra.Command, args []string, th *float64) error) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		th, err := threshold(c.Flags(), *v)
		if err != nil {
			return err
		}
		return run(c, args, th)
	}
}

const cacheHelp = "descriptor cache `folder` (default $" + identify.EnvCache + ", else starid/descriptors in the user cache folder)"

func cacheFlag(f *pflag.FlagSet, p *string, what string) {
	f.StringVar(p, "cache", "", what+cacheHelp)
}

func workersFlag(f *pflag.FlagSet, p *int, what string) {
	f.IntVar(p, "workers", 0, what+" goroutines (0: one per core)")
}

// checkWorkers checks --workers and cuts a huge value (clix.Workers).
func checkWorkers(p *int, stderr io.Writer) (err error) {
	*p, err = clix.Workers(*p, stderr)
	return err
}

// detectorValue is --detector, checked as it is parsed so that a bad
// value is a usage error naming the choices.
type detectorValue faces.DetectorChoice

func (v *detectorValue) Type() string { return "detector" }
func (v *detectorValue) String() string {
	if *v == "" {
		return string(faces.AutoDetector)
	}
	return string(*v)
}
func (v *detectorValue) Set(s string) error {
	d, err := faces.ParseDetector(s)
	if err == nil {
		*v = detectorValue(d)
	}
	return err
}

// detectorFlag is --detector, the same for every command that finds faces.
func detectorFlag(f *pflag.FlagSet, p *faces.DetectorChoice) {
	f.Var((*detectorValue)(p), "detector", "face `detector`: auto (the tiny one; the SSD too for photos it is unsure of and group photos), "+
		"tiny (never the SSD: faster, misses more faces in groups and thumbnails) or ssd (the SSD alone: slower)")
}
