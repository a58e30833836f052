package models

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/nn"
	"starid/internal/safetensors"
	"starid/internal/tensor"
	"starid/internal/testkit"
)

// TestTorchAgreesOnLogits is the proof that starid's forward pass is
// PyTorch's: a starid-built vgg16-bn-dropout-light, with random weights and
// non-trivial BatchNorm statistics, is saved as safetensors, loaded with
// strict=True into the reference script's own PyTorch module, and both run
// the same input in eval mode. It needs Debian's python3-torch and
// ../shared/bench beside the repository, and skips without them.
func TestTorchAgreesOnLogits(t *testing.T) {
	benchDir := sharedBenchDir(t)
	python := testkit.NeedTorch(t)
	rng := rand.New(rand.NewPCG(3, 4))
	net := buildNamed(t, "vgg16-bn-dropout-light", rng)
	// Fresh BatchNorm layers are the identity in eval mode; give them
	// statistics and affine terms so the check covers their formula.
	sd := nn.StateDict(net)
	isBN := map[string]bool{}
	for _, e := range sd {
		if p, ok := strings.CutSuffix(e.Name, "running_mean"); ok {
			isBN[p] = true
		}
	}
	for _, e := range sd {
		d := e.Param.Value.Data
		prefix, leaf := e.Name[:strings.LastIndex(e.Name, ".")+1], e.Name[strings.LastIndex(e.Name, ".")+1:]
		if !isBN[prefix] {
			continue
		}
		switch leaf {
		case "running_mean":
			fill(d, func() float64 { return 0.2 * rng.NormFloat64() })
		case "running_var":
			fill(d, func() float64 { return 0.5 + rng.Float64() })
		case "num_batches_tracked":
			d[0] = 7
		case "weight":
			fill(d, func() float64 { return 0.5 + rng.Float64() })
		case "bias":
			fill(d, func() float64 { return 0.1 * rng.NormFloat64() })
		}
	}
	// 80 pixels: block 5 ends at 2x2, so the adaptive pooling must spread
	// four values over 7x7 bins exactly as PyTorch does.
	x := tensor.New(2, 3, 80, 80)
	fill(x.Data, rng.NormFloat64)
	net.SetTraining(false)
	y, err := net.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "logits.bin")
	ts := append(nn.StateTensors(net), safetensors.Tensor{Name: "input", Shape: x.Shape, F32: x.Data})
	if err := safetensors.WriteFile(src, ts, nil); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "testdata/torch_logits.py", benchDir, "vgg16_bn_do_light", src, dst)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch_logits.py: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*len(y.Data) {
		t.Fatalf("torch gave %d bytes of logits, want %d", len(raw), 4*len(y.Data))
	}
	worst := 0.0
	for i, v := range y.Data {
		w := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		worst = math.Max(worst, math.Abs(float64(v-w)))
	}
	t.Logf("max |starid - torch| over %d logits: %.2g (logit scale %.2g)", len(y.Data), worst, maxAbs(y.Data))
	if worst > 1e-4 || math.IsNaN(worst) {
		t.Fatalf("logits differ from PyTorch by %g > 1e-4", worst)
	}
}

func fill(d []float32, f func() float64) {
	for i := range d {
		d[i] = float32(f())
	}
}

func maxAbs(d []float32) float64 {
	m := 0.0
	for _, v := range d {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

// sharedBenchDir finds ../shared/bench beside the repository root.
func sharedBenchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("skipping: repository root not found")
		}
		dir = parent
	}
	bench := filepath.Join(filepath.Dir(dir), "shared", "bench")
	if _, err := os.Stat(filepath.Join(bench, "torch_reference.py")); err != nil {
		t.Skipf("skipping: %s/torch_reference.py not found (../shared beside the repository)", bench)
	}
	return bench
}
