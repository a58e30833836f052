package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"

	"starid/internal/bench"
	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
	"starid/internal/train"
)

func init() {
	register("bench", "time one training step or inference batch of a model", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench --model NAME --size S [--width 1] --batch B [--mode train|infer] [--steps N] [--warmup 1] [--classes 17] [--json] [--cpuprofile FILE] [--profile]\n       starid bench --faces PHOTO|DIR... [--steps N] [--warmup 1] [--json]\n       starid bench --kernel", stderr)
	model := fs.String("model", "", "model name: "+joinNames(models.Names()))
	size := fs.Int("size", 224, "input height and width")
	width := fs.Float64("width", 1, "scale every convolution's channel count (as train --width)")
	batch := fs.Int("batch", 32, "batch size")
	mode := fs.String("mode", "train", "train (forward, backward, Adam update) or infer (forward in eval mode)")
	steps := fs.Int("steps", 3, "timed steps")
	warmup := fs.Int("warmup", 1, "untimed warm-up steps")
	classes := fs.Int("classes", 17, "number of output classes")
	asJSON := fs.Bool("json", false, "print JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (for go tool pprof)")
	layerProfile := fs.Bool("profile", false, "also print each layer's forward and backward time and GFLOP/s over the timed steps")
	facesMode := fs.Bool("faces", false, "time the face pipeline on the photos (and folders of photos) given as arguments")
	kernelOnly := fs.Bool("kernel", false, "print the GEMM kernels this binary runs on this machine, and exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *kernelOnly {
		// What make info and bench/compare.sh report for starid: the answer
		// of this binary in this environment, not a guess made beside it.
		fmt.Fprintln(stdout, tensor.KernelFamily())
		return nil
	}
	if *facesMode {
		return runBenchFaces(pos, *steps, *warmup, *asJSON, stdout, stderr)
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *model == "" {
		return usagef("--model is required (one of %s)", joinNames(models.Names()))
	}
	if !oneOf(*mode, "train", "infer") {
		return usagef("--mode must be train or infer, got %q", *mode)
	}
	if *size < 1 || *batch < 1 || *steps < 1 {
		return usagef("--size, --batch and --steps must be positive")
	}
	if *warmup < 0 {
		return usagef("--warmup %d: must be 0 or more", *warmup)
	}
	net, step, err := benchStep(*model, *mode, *classes, *size, *batch, *width)
	if err != nil {
		return err
	}
	var prof *nn.LayerProfile
	if *layerProfile {
		// Warm up before attaching, as for --cpuprofile: the table is the
		// steady state, not the first step's page faults.
		for range *warmup {
			if err := step(); err != nil {
				return err
			}
		}
		*warmup = 0
		prof = &nn.LayerProfile{}
		nn.SetProfile(net, prof)
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile, *warmup, step)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := bench.Run(*warmup, *steps, step)
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
	}{Result: res, Model: *model, Mode: *mode, Size: *size, Batch: *batch, Threads: runtime.GOMAXPROCS(0),
		Params: total, Backend: tensor.Backend, Kernel: tensor.KernelFamily()}
	if prof != nil {
		out.Profile = prof.Rows
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(out)
	}
	fmt.Fprintf(stdout, "%s %s size=%d batch=%d threads=%d gemm=%s: median %.0f ms, min %.0f ms per step (%d steps), peak RSS %.0f MB\n",
		*mode, *model, *size, *batch, out.Threads, out.Kernel, res.MedianMS, res.MinMS, res.Steps, res.PeakRSSMB)
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
