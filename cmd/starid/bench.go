package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"starid/internal/bench"
	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
	"starid/internal/train"
)

func init() { addCommand(newBenchCmd) }

type benchOptions struct {
	model, mode, cpuProfile          string
	size, batch, steps, warmup       int
	classes                          int
	width                            float64
	json, profile, faces, kernelOnly bool
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	c := &cobra.Command{
		Use:   "bench --model NAME [--mode train|infer] | bench --faces PHOTO|DIR... | bench --kernel",
		Short: "time one training step or inference batch of a model, or the face pipeline",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
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
	f.BoolVar(&o.profile, "profile", false, "also print each layer's forward and backward time and GFLOP/s over the timed steps")
	f.BoolVar(&o.faces, "faces", false, "time the face pipeline on the photos (and folders of photos) given as arguments")
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
	if o.faces {
		return runBenchFaces(pos, o.steps, o.warmup, o.json, stdout, stderr)
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if o.model == "" {
		return usagef("--model is required (one of %s)", modelNames())
	}
	if !oneOf(o.mode, "train", "infer") {
		return usagef("--mode must be train or infer, got %q", o.mode)
	}
	if o.size < 1 || o.batch < 1 || o.steps < 1 {
		return usagef("--size, --batch and --steps must be positive")
	}
	if o.warmup < 0 {
		return usagef("--warmup %d: must be 0 or more", o.warmup)
	}
	net, step, err := benchStep(o.model, o.mode, o.classes, o.size, o.batch, o.width)
	if err != nil {
		return err
	}
	var prof *nn.LayerProfile
	if o.profile {
		// Warm up before attaching, as for --cpuprofile: the table is the
		// steady state, not the first step's page faults.
		for range o.warmup {
			if err := step(); err != nil {
				return err
			}
		}
		o.warmup = 0
		prof = &nn.LayerProfile{}
		nn.SetProfile(net, prof)
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile, o.warmup, step)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := bench.Run(o.warmup, o.steps, step)
	if err != nil {
		return err
	}
	total, _ := nn.CountParams(net)
	out := struct {
		bench.Result
		Model   string `json:"model"`
		Mode    string `json:"mode"`
		Size    int    `json:"size"`
		Batch   int    `json:"batch"`
		Threads int    `json:"threads"`
		Params  int    `json:"params"`
		Backend string `json:"gemm_backend"`
		Kernel  string `json:"gemm_kernel"`
		// Profile, with --profile: per layer, the summed pass times in
		// nanoseconds and the arithmetic done.
		Profile []nn.ProfileRow `json:"profile,omitempty"`
	}{Result: res, Model: o.model, Mode: o.mode, Size: o.size, Batch: o.batch, Threads: runtime.GOMAXPROCS(0),
		Params: total, Backend: tensor.Backend, Kernel: tensor.KernelFamily()}
	if prof != nil {
		out.Profile = prof.Rows
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "%s %s size=%d batch=%d threads=%d gemm=%s: median %.0f ms, min %.0f ms per step (%d steps), peak RSS %.0f MB\n",
		o.mode, o.model, o.size, o.batch, out.Threads, out.Kernel, res.MedianMS, res.MinMS, res.Steps, res.PeakRSSMB)
	if prof != nil {
		return prof.Write(stdout)
	}
	return nil
}

// benchStep builds the model and one step of the benchmark on a fixed
// random batch: a training step (forward, backward, Adam) or an inference
// forward.
func benchStep(model, mode string, classes, size, batch int, width float64) (*nn.Sequential, func() error, error) {
	spec, err := models.ByNameWidth(model, classes, width)
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := models.Build(spec, rng)
	if err != nil {
		return nil, nil, err
	}
	x := tensor.New(batch, spec.InChannels, size, size)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	if mode == "train" {
		net.SetTraining(true)
		st := &train.Stepper{Model: net, Opt: optim.NewAdam(net.Params(), optim.AdamConfig{LR: 1e-4})}
		return net, func() error { _, err := st.Step(x, labels); return err }, nil
	}
	net.SetTraining(false)
	return net, func() error { _, err := net.Forward(x); return err }, nil
}

// startCPUProfile runs the warm-up steps first (so the profile shows steady
// state, not first-touch page faults) and then starts profiling into path.
func startCPUProfile(path string, warmup int, step func() error) (stop func(), err error) {
	for i := 0; i < warmup; i++ {
		if err := step(); err != nil {
			return nil, err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
