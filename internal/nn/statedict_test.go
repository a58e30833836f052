package nn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"starid/internal/safetensors"
	"starid/internal/testkit"
)

// sdModel is a small VGG-shaped network: a conv block with batch norm and a
// classifier, named like the tutorial's models. kernel changes the conv
// weight shape and head renames the classifier, for the mismatch tests.
// Every parameter and buffer gets distinct random values from seed so a
// load that mixes up entries cannot pass.
func sdModel(seed uint64, kernel int, head string) *Sequential {
	rng := rand.New(rand.NewPCG(seed, 3))
	block := NewSequential(NewConv2d(3, 4, kernel, 1, kernel/2, true, rng), NewBatchNorm2d(4), NewReLU(true))
	m := NewNamedSequential([]string{"block1", head}, []Layer{block, NewSequential(NewFlatten(), NewLinear(8, 3, true, rng))})
	for _, nt := range StateDict(m) {
		for i := range nt.Param.Value.Data {
			nt.Param.Value.Data[i] = float32(rng.NormFloat64())
		}
		if nt.Param.Int64 {
			nt.Param.Value.Data[0] = float32(rng.IntN(1000))
		}
	}
	return m
}

// snapshot copies every state value of m, keyed by name.
func snapshot(m Layer) map[string][]float32 {
	out := map[string][]float32{}
	for _, nt := range StateDict(m) {
		out[nt.Name] = append([]float32(nil), nt.Param.Value.Data...)
	}
	return out
}

func sameState(t *testing.T, got, want map[string][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			t.Errorf("%s: %d values, want %d", name, len(g), len(w))
			continue
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				t.Errorf("%s[%d] = %v, want %v", name, i, g[i], w[i])
				break
			}
		}
	}
}

var sdNames = []string{
	"block1.0.weight", "block1.0.bias",
	"block1.1.weight", "block1.1.bias", "block1.1.running_mean", "block1.1.running_var", "block1.1.num_batches_tracked",
	"classifier.1.weight", "classifier.1.bias",
}

func TestStateDictRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "best.safetensors")
	src := sdModel(1, 3, "classifier")
	if err := SaveStateDict(path, src, map[string]string{"epoch": "4"}); err != nil {
		t.Fatal(err)
	}

	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, info := range f.Tensors {
		names = append(names, info.Name)
		wantType := safetensors.F32
		if strings.HasSuffix(info.Name, "num_batches_tracked") {
			wantType = safetensors.I64
			if len(info.Shape) != 0 {
				t.Errorf("%s has shape %v, want a scalar as in PyTorch", info.Name, info.Shape)
			}
		}
		if info.DType != wantType {
			t.Errorf("%s stored as %s, want %s", info.Name, info.DType, wantType)
		}
	}
	if fmt.Sprint(names) != fmt.Sprint(sdNames) {
		t.Errorf("file holds %v, want %v", names, sdNames)
	}
	if f.Metadata["epoch"] != "4" || f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	f.Close()

	dst := sdModel(2, 3, "classifier")
	if err := LoadStateDict(path, dst); err != nil {
		t.Fatal(err)
	}
	sameState(t, snapshot(dst), snapshot(src))
}

func TestLoadStateDictStrict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "best.safetensors")
	if err := SaveStateDict(path, sdModel(1, 3, "classifier"), nil); err != nil {
		t.Fatal(err)
	}
	dst := sdModel(2, 5, "head")
	before := snapshot(dst)
	err := LoadStateDict(path, dst)
	want := path + `: state dict does not fit the model
	missing keys: "head.1.weight", "head.1.bias"
	unexpected keys: "classifier.1.weight", "classifier.1.bias"
	size mismatch for block1.0.weight: checkpoint has [4, 3, 3, 3], model has [4, 3, 5, 5]`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	var sde *StateDictError
	if !errors.As(err, &sde) || len(sde.Missing) != 2 {
		t.Errorf("error is not a *StateDictError with two missing keys: %#v", err)
	}
	sameState(t, snapshot(dst), before) // a refused load changes nothing

	if err := LoadStateDict(filepath.Join(t.TempDir(), "none.safetensors"), dst); err == nil || !strings.Contains(err.Error(), "none.safetensors") {
		t.Errorf("loading a missing file: %v", err)
	}
}

// TestCheckpointWithOptimizer stores optimizer state beside the model, as
// the "last" checkpoint does, and reads both back.
func TestCheckpointWithOptimizer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "last.safetensors")
	src := sdModel(1, 3, "classifier")
	avg := make([]float32, 4*3*3*3)
	for i := range avg {
		avg[i] = float32(i) / 7
	}
	extra := []safetensors.Tensor{
		{Name: "optim.step", Shape: []int{}, I64: []int64{1 << 40}},
		{Name: "optim.block1.0.weight.exp_avg", Shape: []int{4, 3, 3, 3}, F32: avg},
	}
	if err := WriteTensors(path, src, extra, map[string]string{"format": "starid", "epoch": "9"}); err != nil {
		t.Fatal(err)
	}

	// A plain model load skips the optimizer entries.
	plain := sdModel(2, 3, "classifier")
	if err := LoadStateDict(path, plain); err != nil {
		t.Fatal(err)
	}
	sameState(t, snapshot(plain), snapshot(src))

	dst := sdModel(3, 3, "classifier")
	got, meta, err := ReadTensors(path, dst)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, snapshot(dst), snapshot(src))
	if meta["epoch"] != "9" || meta["format"] != "starid" {
		t.Errorf("metadata %v; the caller's format must win", meta)
	}
	if len(got) != 2 || got[0].Name != "optim.step" || fmt.Sprint(got[0].I64) != fmt.Sprint([]int64{1 << 40}) || len(got[0].Shape) != 0 {
		t.Fatalf("extras %+v", got)
	}
	if got[1].Name != "optim.block1.0.weight.exp_avg" || fmt.Sprint(got[1].Shape) != "[4 3 3 3]" || fmt.Sprint(got[1].F32) != fmt.Sprint(avg) {
		t.Errorf("exp_avg came back as %v %v", got[1].Shape, got[1].F32[:3])
	}

	bad := []safetensors.Tensor{{Name: "block1.0.weight", Shape: []int{1}, F32: []float32{1}}}
	err = WriteTensors(filepath.Join(dir, "x.safetensors"), src, bad, nil)
	if err == nil || !strings.Contains(err.Error(), `extra tensor "block1.0.weight" must be named under "optim."`) {
		t.Errorf("an extra outside the prefix: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused write left a file behind (%v)", err)
	}
}

// torchLoad rebuilds sdModel in PyTorch, loads our file into it with
// load_state_dict(strict=True) from tensors parsed by hand, and prints the
// resulting state_dict: names in order, dtypes, shapes, values (floats as
// float.hex so the comparison is exact).
const torchLoad = `
import json, struct, sys, torch
from collections import OrderedDict
nn = torch.nn
raw = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
header.pop("__metadata__", None)
types = {"F32": torch.float32, "I64": torch.int64}
sd = OrderedDict()
for name, e in header.items():
    b, end = e["data_offsets"]
    sd[name] = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + end]), dtype=types[e["dtype"]]).reshape(e["shape"])
model = nn.Sequential(OrderedDict(
    block1=nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True)),
    classifier=nn.Sequential(nn.Flatten(), nn.Linear(8, 3))))
model.load_state_dict(sd, strict=True)
out = []
for k, v in model.state_dict().items():
    vals = v.flatten().tolist()
    if v.dtype.is_floating_point:
        vals = [x.hex() for x in vals]
    out.append({"name": k, "dtype": str(v.dtype), "shape": list(v.shape), "values": vals})
print(json.dumps(out))
`

// TestTorchLoadsStateDict checks that a saved state dict is what PyTorch's
// strict loader expects for the same architecture: names, order, shapes,
// int64 num_batches_tracked and every value.
func TestTorchLoadsStateDict(t *testing.T) {
	python := testkit.NeedTorch(t)
	path := filepath.Join(t.TempDir(), "best.safetensors")
	src := sdModel(1, 3, "classifier")
	if err := SaveStateDict(path, src, nil); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", torchLoad, path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("torch refused the file: %s", ee.Stderr)
		}
		t.Fatal(err)
	}
	var got []struct {
		Name, DType string
		Shape       []int
		Values      []json.RawMessage
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python printed %q: %v", out, err)
	}
	sd := StateDict(src)
	if len(got) != len(sd) {
		t.Fatalf("torch's state_dict has %d entries, ours %d", len(got), len(sd))
	}
	for i, nt := range sd {
		g := got[i]
		wantType := "torch.float32"
		if nt.Param.Int64 {
			wantType = "torch.int64"
		}
		if g.Name != nt.Name || g.DType != wantType || fmt.Sprint(g.Shape) != fmt.Sprint(nt.Param.Value.Shape) {
			t.Errorf("entry %d: torch has %s %s %v, we have %s %s %v", i, g.Name, g.DType, g.Shape, nt.Name, wantType, nt.Param.Value.Shape)
			continue
		}
		for j, raw := range g.Values {
			v, err := strconv.ParseFloat(strings.Trim(string(raw), `"`), 64)
			if err != nil || v != float64(nt.Param.Value.Data[j]) {
				t.Errorf("%s[%d]: torch has %s, we have %v", nt.Name, j, raw, nt.Param.Value.Data[j])
				break
			}
		}
	}
}

// BenchmarkSaveLoadStateDict saves and loads a VGG16 fc-sized layer
// (4096x4096, 64 MB) through the file system, fsync included.
func BenchmarkSaveLoadStateDict(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := NewSequential(NewLinear(4096, 4096, true, rng))
	path := filepath.Join(b.TempDir(), "fc.safetensors")
	b.SetBytes(2 * 4 * (4096*4096 + 4096))
	for b.Loop() {
		if err := SaveStateDict(path, m, nil); err != nil {
			b.Fatal(err)
		}
		if err := LoadStateDict(path, m); err != nil {
			b.Fatal(err)
		}
	}
}
