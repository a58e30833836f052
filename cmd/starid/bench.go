package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/bench"
	"starid/internal/faces"
	"starid/internal/progress"
	"starid/internal/tensor"
)

func init() { addCommand(newBenchCmd) }

type benchOptions struct {
	model, mode, cpuProfile          string
	size, batch, steps, warmup       int
	classes                          int
	width                            float64
	json, profile, faces, kernelOnly bool
	detector                         faces.DetectorChoice
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	c := command("bench --model NAME [--mode train|infer] | bench --faces PHOTO|DIR... | bench --kernel", "time one training step or inference batch of a model, or the face pipeline", func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout(), c.ErrOrStderr()) })
	f := c.Flags()
	modelFlag(f, &o.model)
	f.IntVar(&o.size, "size", 224, "input height and width")
	f.Float64Var(&o.width, "width", 1, "scale every convolution's channel count (as train --width)")
	f.IntVar(&o.batch, "batch", 32, "batch size")
	f.StringVar(&o.mode, "mode", "train", "train (forward, backward, Adam update) or infer (forward in eval mode)")
	f.IntVar(&o.steps, "steps", 3, "timed steps")
	f.IntVar(&o.warmup, "warmup", 1, "untimed warm-up steps")
	f.IntVar(&o.classes, "classes", 17, "number of output classes")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this `file` (for go tool pprof)")
	f.BoolVar(&o.profile, "profile", false, "also print each layer's forward and backward time and GFLOP/s over the timed steps, backward split into its input- and weight-gradient passes")
	f.BoolVar(&o.faces, "faces", false, "time the face pipeline on the photos (and folders of photos) given as arguments")
	detectorFlag(f, &o.detector)
	f.BoolVar(&o.kernelOnly, "kernel", false, "print the GEMM kernels this binary runs on this machine, and exit")
	return c
}

func (o *benchOptions) run(pos []string, stdout, stderr io.Writer) error {
	if o.kernelOnly {
		// What make info and bench/compare.sh report for starid: the answer
		// of this binary in this environment, not a guess made beside it.
		fmt.Fprintln(stdout, tensor.KernelFamily())
		return nil
	}
	if err := bench.CheckRepeats(o.steps, o.warmup); err != nil {
		return err
	}
	if o.faces {
		return o.runFaces(pos, stdout, stderr)
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	cfg := bench.ModelConfig{Model: o.model, Mode: o.mode, Classes: o.classes, Size: o.size, Batch: o.batch,
		Warmup: o.warmup, Steps: o.steps, Width: o.width, CPUProfile: o.cpuProfile, Profile: o.profile}
	if err := cfg.Check(); err != nil {
		return err
	}
	res, err := bench.Model(cfg)
	return o.print(stdout, res, err)
}

// runFaces is bench --faces: the face pipeline on photos, folders searched
// for photos so a whole data set can be timed.
func (o *benchOptions) runFaces(paths []string, stdout, stderr io.Writer) error {
	if len(paths) == 0 {
		return usagef("--faces wants at least one photo or folder")
	}
	finder, err := openFaceFinder(o.detector)
	if err != nil {
		return err
	}
	bar := progress.New(stderr, 0, "timing photos")
	res, err := bench.FacesOn(finder, paths, bench.FacesOptions{Steps: o.steps, Warmup: o.warmup, Progress: bar.Func()})
	bar.Finish()
	if res != nil {
		res.Pipeline = o.detector.Version() // the timings are the chosen detector's
	}
	return o.print(stdout, res, err)
}

// print is a timing's result as one line of JSON or as text.
func (o *benchOptions) print(stdout io.Writer, res interface{ WriteText(io.Writer) error }, err error) error {
	if err != nil {
		return err
	} else if o.json {
		return json.NewEncoder(stdout).Encode(res)
	}
	return res.WriteText(stdout)
}
