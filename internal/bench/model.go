package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"

	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
	"starid/internal/train"
)

// ModelConfig is one `starid bench --model` measurement: a training step
// (forward, backward, Adam update) or an inference forward of a VGG on a
// fixed random batch.
type ModelConfig struct {
	Model, Mode                         string // Mode: "train" or "infer"
	Classes, Size, Batch, Warmup, Steps int
	Width                               float64
	// CPUProfile, if set, is the file for a CPU profile of the timed steps.
	CPUProfile string
	// Profile asks for each layer's pass times and arithmetic.
	Profile bool
}

// ModelResult is `starid bench --model --json`.
type ModelResult struct {
	Result
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

	prof *nn.LayerProfile
}

// Model times cfg's step.
func Model(cfg ModelConfig) (*ModelResult, error) {
	net, step, err := modelStep(cfg)
	if err != nil {
		return nil, err
	}
	warmup := cfg.Warmup
	// Warm up before profiling, layers or CPU alike: the numbers are the
	// steady state, not the first step's page faults.
	if cfg.Profile || cfg.CPUProfile != "" {
		if err := repeat(warmup, step); err != nil {
			return nil, err
		}
		warmup = 0
	}
	var prof *nn.LayerProfile
	if cfg.Profile {
		prof = &nn.LayerProfile{}
		nn.SetProfile(net, prof)
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	res, err := Run(warmup, cfg.Steps, step)
	if err != nil {
		return nil, err
	}
	total, _ := nn.CountParams(net)
	out := &ModelResult{Result: res, Model: cfg.Model, Mode: cfg.Mode, Size: cfg.Size, Batch: cfg.Batch,
		Threads: runtime.GOMAXPROCS(0), Params: total, Backend: tensor.Backend, Kernel: tensor.KernelFamily(), prof: prof}
	if prof != nil {
		out.Profile = prof.Rows
	}
	return out, nil
}

// WriteText is the one-line summary, then the layer table with --profile.
func (r *ModelResult) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s %s size=%d batch=%d threads=%d gemm=%s: median %.0f ms, min %.0f ms per step (%d steps), peak RSS %.0f MB\n",
		r.Mode, r.Model, r.Size, r.Batch, r.Threads, r.Kernel, r.MedianMS, r.MinMS, r.Steps, r.PeakRSSMB)
	if r.prof != nil {
		return r.prof.Write(w)
	}
	return nil
}

func repeat(n int, step func() error) error {
	for range n {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// modelStep builds the model and one step of the benchmark on a fixed
// random batch.
func modelStep(cfg ModelConfig) (*nn.Sequential, func() error, error) {
	spec, err := models.ByNameWidth(cfg.Model, cfg.Classes, cfg.Width)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := models.Build(spec, rng)
	if err != nil {
		return nil, nil, err
	}
	x := tensor.New(cfg.Batch, spec.InChannels, cfg.Size, cfg.Size)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	labels := make([]int, cfg.Batch)
	for i := range labels {
		labels[i] = rng.IntN(cfg.Classes)
	}
	if cfg.Mode == "train" {
		net.SetTraining(true)
		st := &train.Stepper{Model: net, Opt: optim.NewAdam(net.Params(), optim.AdamConfig{LR: 1e-4})}
		return net, func() error { _, err := st.Step(x, labels); return err }, nil
	}
	net.SetTraining(false)
	return net, func() error { _, err := net.Forward(x); return err }, nil
}

// startCPUProfile starts profiling into path.
func startCPUProfile(path string) (stop func(), err error) {
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
