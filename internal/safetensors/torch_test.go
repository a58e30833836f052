package safetensors

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"starid/internal/tensor"
	"starid/internal/testkit"
)

// TestReadTorchFile reads testdata/torch.safetensors, written from PyTorch
// tensors by testdata/gen_torch.py with a hand-built header whose keys run
// opposite to the data order, and checks every value bit for bit.
func TestReadTorchFile(t *testing.T) {
	f, err := Open(filepath.Join("testdata", "torch.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" || f.Metadata["producer"] != "gen_torch.py" {
		t.Errorf("metadata %v", f.Metadata)
	}
	negZero := float32(math.Copysign(0, -1))
	inf := float32(math.Inf(1))
	want := []struct {
		name  string
		dtype DType
		shape string
		f32   []float32
		i64   []int64
	}{
		{"conv.weight", F32, "[2 2 2]", []float32{0.5, -1.25, 3.0, 0.1, negZero, 1e-3, -7.75, 1.0 / (1 << 20)}, nil},
		{"conv.bias", F32, "[2]", []float32{0.25, -0.125}, nil},
		{"bn.running_mean", F16, "[6]", []float32{1.5, -2, 65504, 1.0 / (1 << 14), 1.0 / (1 << 24), inf}, nil},
		{"bn.running_var", BF16, "[3]", []float32{1, -0.0078125, 0x1p100}, nil},
		{"bn.num_batches_tracked", I64, "[]", nil, []int64{12345678901}},
		{"fc.weight", F64, "[1 2]", []float32{float32(1.0 / 3.0), -2.5}, nil},
		{"ids", I32, "[3]", nil, []int64{-7, 0, 2147483647}},
		{"mask", U8, "[3]", nil, []int64{0, 1, 255}},
		{"empty", F32, "[0 3]", []float32{}, nil},
	}
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for i, w := range want {
		got := f.Tensors[i]
		if got.Name != w.name || got.DType != w.dtype || fmt.Sprint(got.Shape) != w.shape {
			t.Errorf("tensor %d is %s %s %v, want %s %s %s", i, got.Name, got.DType, got.Shape, w.name, w.dtype, w.shape)
			continue
		}
		if w.i64 != nil {
			v, err := f.Int64(w.name)
			if err != nil || fmt.Sprint(v) != fmt.Sprint(w.i64) {
				t.Errorf("%s = %v (%v), want %v", w.name, v, err, w.i64)
			}
			continue
		}
		v, err := f.Float32(w.name)
		if err != nil || !tensor.SameBits(v, w.f32) {
			t.Errorf("%s = %v (%v), want %v", w.name, v, err, w.f32)
		}
	}
}

// torchCheck parses a safetensors file by hand in Python (struct and json,
// no safetensors package) with torch.frombuffer, and prints every tensor's
// dtype, shape and values as JSON, floats as float.hex so they compare
// exactly.
const torchCheck = `
import json, struct, sys, torch
raw = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
base = 8 + n
types = {"F32": torch.float32, "I64": torch.int64}
out = {"__metadata__": header.pop("__metadata__", {})}
for name, e in header.items():
    b, end = e["data_offsets"]
    dt = types[e["dtype"]]
    count = (end - b) // torch.tensor([], dtype=dt).element_size()
    t = torch.frombuffer(bytearray(raw[base + b:base + end]), dtype=dt, count=count) if count else torch.empty(0, dtype=dt)
    t = t.reshape(e["shape"])
    vals = t.flatten().tolist()
    if dt.is_floating_point:
        vals = [float(v).hex() for v in vals]
    out[name] = {"dtype": e["dtype"], "shape": list(t.shape), "values": vals}
print(json.dumps(out))
`

// TestTorchReadsOurFile writes a file and has PyTorch parse it, checking
// that our header, offsets and byte layout are what an independent reader
// expects. It skips when /usr/bin/python3 has no torch.
func TestTorchReadsOurFile(t *testing.T) {
	python := testkit.NeedTorch(t)
	path := filepath.Join(t.TempDir(), "ours.safetensors")
	in := sample()[:5] // NaN has no exact JSON spelling; the rest do
	meta := map[string]string{"epoch": "3", "model": "vgg16-bn"}
	if err := WriteFile(path, in, meta); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", torchCheck, path).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python printed %q: %v", out, err)
	}
	var gotMeta map[string]string
	if err := json.Unmarshal(got["__metadata__"], &gotMeta); err != nil || fmt.Sprint(gotMeta) != fmt.Sprint(meta) {
		t.Errorf("torch sees metadata %v (%v), want %v", gotMeta, err, meta)
	}
	if len(got) != len(in)+1 {
		t.Errorf("torch sees %d entries, want %d tensors and the metadata", len(got), len(in))
	}
	for _, w := range in {
		var e struct {
			DType  string
			Shape  []int
			Values []json.RawMessage
		}
		if err := json.Unmarshal(got[w.Name], &e); err != nil {
			t.Errorf("%s: %v in %s", w.Name, err, got[w.Name])
			continue
		}
		if e.DType != string(w.DType()) || fmt.Sprint(e.Shape) != fmt.Sprint(w.Shape) {
			t.Errorf("%s: torch sees %s %v, want %s %v", w.Name, e.DType, e.Shape, w.DType(), w.Shape)
		}
		if len(e.Values) != w.len() {
			t.Errorf("%s: torch reads %d values, want %d", w.Name, len(e.Values), w.len())
			continue
		}
		for i, raw := range e.Values {
			if w.I64 != nil {
				if string(raw) != fmt.Sprint(w.I64[i]) {
					t.Errorf("%s[%d]: torch reads %s, want %d", w.Name, i, raw, w.I64[i])
				}
				continue
			}
			// strconv reads Python's float.hex spelling, "inf" included.
			v, err := strconv.ParseFloat(strings.Trim(string(raw), `"`), 64)
			if err != nil || math.Float64bits(v) != math.Float64bits(float64(w.F32[i])) {
				t.Errorf("%s[%d]: torch reads %s (%v), want %v", w.Name, i, raw, err, w.F32[i])
			}
		}
	}
}
