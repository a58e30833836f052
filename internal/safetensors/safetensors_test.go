package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"starid/internal/atomicfile"
	"starid/internal/tensor"
	"strings"
	"testing"
)

// sample is a small state dict: float weights with awkward values, an int64
// scalar buffer like BatchNorm's num_batches_tracked, and an empty tensor.
func sample() []Tensor {
	return []Tensor{
		{Name: "block1.0.weight", Shape: []int{2, 3}, F32: []float32{0.5, -1.25, float32(math.Inf(1)), float32(math.Copysign(0, -1)), 1e-40, math.MaxFloat32}},
		{Name: "block1.0.bias", Shape: []int{2}, F32: []float32{0.1, -0.2}},
		{Name: "block1.1.num_batches_tracked", Shape: []int{}, I64: []int64{1<<40 + 1}},
		{Name: "ids", Shape: []int{3}, I64: []int64{-5, 0, math.MaxInt64}},
		{Name: "empty", Shape: []int{0, 4}, F32: []float32{}},
		{Name: "classifier.6.weight", Shape: []int{1, 1, 1}, F32: []float32{float32(math.NaN())}},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample()
	meta := map[string]string{"format": "pt", "note": "quotes \" and \\ and ünïcode", "epoch": "7"}
	var buf bytes.Buffer
	if err := Write(&buf, in, meta); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8, the data would be misaligned", n)
	}
	f, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata) != len(meta) {
		t.Errorf("metadata %v, want %v", f.Metadata, meta)
	}
	for k, v := range meta {
		if f.Metadata[k] != v {
			t.Errorf("metadata[%q] = %q, want %q", k, f.Metadata[k], v)
		}
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(in))
	}
	for i, want := range in {
		got := f.Tensors[i]
		if got.Name != want.Name || got.DType != want.DType() || fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
			t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, got.Name, got.DType, got.Shape, want.Name, want.DType(), want.Shape)
		}
		if want.I64 != nil {
			vals, err := f.Int64(want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(vals) != fmt.Sprint(want.I64) {
				t.Errorf("%s = %v, want %v", want.Name, vals, want.I64)
			}
			continue
		}
		vals, err := f.Float32(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameBits(vals, want.F32) {
			t.Errorf("%s = %v, want %v", want.Name, vals, want.F32)
		}
	}
	// Integer tensors also load as float32 (how num_batches_tracked reaches
	// a float32 buffer); floats refuse to load as integers.
	if v, err := f.Float32("ids"); err != nil || v[0] != -5 || v[2] != float32(math.MaxInt64) {
		t.Errorf("ids as float32 = %v, %v", v, err)
	}
	if _, err := f.Int64("block1.0.bias"); err == nil || !strings.Contains(err.Error(), "does not hold integers") {
		t.Errorf("Int64 of an F32 tensor: %v", err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), "no tensor nope") {
		t.Errorf("Float32 of a missing tensor: %v", err)
	}
	if err := f.ReadFloat32("block1.0.bias", make([]float32, 3)); err == nil || !strings.Contains(err.Error(), "has 2 elements") {
		t.Errorf("ReadFloat32 into a wrong-sized slice: %v", err)
	}
}

// TestLargeTensorChunks crosses both the writer's and the reader's chunk
// boundaries, mixing 4- and 8-byte elements so chunks do not line up.
func TestLargeTensorChunks(t *testing.T) {
	a := make([]float32, decodeChunk/4*2+3)
	for i := range a {
		a[i] = float32(i) * 0.5
	}
	b := make([]int64, 20001)
	for i := range b {
		b[i] = int64(i) * -3
	}
	in := []Tensor{{Name: "x", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{len(a)}, F32: a}, {Name: "b", Shape: []int{len(b)}, I64: b}}
	var buf bytes.Buffer
	if err := Write(&buf, in, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	ga, err := f.Float32("a")
	if err != nil || !tensor.SameBits(ga, a) {
		t.Errorf("a differs after the round trip (err %v)", err)
	}
	gb, err := f.Int64("b")
	if err != nil || fmt.Sprint(gb) != fmt.Sprint(b) {
		t.Errorf("b differs after the round trip (err %v)", err)
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"duplicate", []Tensor{{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{2}}}, `duplicate tensor name "a"`},
		{"empty name", []Tensor{{Shape: []int{1}, F32: []float32{1}}}, "tensor 0 has an empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, F32: []float32{1}}}, "reserved"},
		{"wrong count", []Tensor{{Name: "w", Shape: []int{2, 3}, F32: make([]float32, 5)}}, "tensor w: shape [2 3] needs 6 values, got 5"},
		{"negative dim", []Tensor{{Name: "w", Shape: []int{-1}, F32: nil}}, "tensor w: negative dimension -1"},
		{"both kinds", []Tensor{{Name: "w", Shape: []int{1}, F32: []float32{1}, I64: []int64{1}}}, "both F32 and I64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, c.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
}

// build assembles a file from a header text and a data buffer of n bytes.
func build(header string, n int) []byte {
	b := make([]byte, 8, 8+len(header)+n)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, n)...)
}

func withLength(n uint64, rest int) []byte {
	b := make([]byte, 8+rest)
	binary.LittleEndian.PutUint64(b, n)
	return b
}

// readCases are malformed files and the message each must produce; FuzzRead
// also starts from them.
var readCases = []struct {
	name string
	file []byte
	want string
}{
	{"empty file", nil, "file has 0 bytes, too short for the 8-byte header length"},
	{"short file", []byte{1, 2, 3, 4, 5}, "file has 5 bytes, too short"},
	{"header over cap", withLength(200_000_000, 4), "header declares 200000000 bytes, more than the 100000000-byte limit"},
	{"header beyond file", withLength(500, 10), "header declares 500 bytes but the file has 10 after the length prefix"},
	{"header length wraps", withLength(math.MaxUint64, 10), "more than the 100000000-byte limit"},
	{"truncated JSON", build(`{"a":{"dtype":"F32",`, 0), "invalid header JSON"},
	{"not an object", build(`[1,2]`, 0), "want an object"},
	{"empty header", build(``, 0), "invalid header JSON: EOF"},
	{"trailing object", build(`{} {}`, 0), "unexpected { after the object"},
	{"trailing garbage", build(`{}x`, 0), "invalid header JSON after the object"},
	{"entry not an object", build(`{"a":5}`, 0), "invalid header JSON: tensor a"},
	{"missing key", build(`{"a":{"dtype":"F32","shape":[1]}}`, 4), `tensor a: entry needs "dtype", "shape" and "data_offsets"`},
	{"key case differs", build(`{"a":{"dtYpe":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor a: entry needs "dtype", "shape" and "data_offsets"`},
	{"null shape", build(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, 4), `tensor a: entry needs`},
	{"dtype not a string", build(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), `invalid header JSON: tensor a: dtype: json: cannot unmarshal number`},
	{"unknown dtype", build(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor a: unknown dtype "F31"`},
	{"size mismatch", build(`{"block1.0.weight":{"dtype":"F32","shape":[64,3,3,3],"data_offsets":[0,6900]}}`, 6900),
		"tensor block1.0.weight: shape [64 3 3 3] of F32 needs 6912 bytes, offsets give 6900"},
	{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,0]}}`, 0), "tensor a: negative dimension -1 in shape [-1 2]"},
	{"fractional dim", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4), "invalid header JSON: tensor a"},
	{"element overflow", build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), "tensor a: shape [4294967296 4294967296] has more elements than fit in 64 bits"},
	{"byte overflow", build(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, 0), "more bytes than fit in 64 bits"},
	{"offsets past buffer", build(`{"a":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}}`, 8), "tensor a: data_offsets [0 100] reach past the 8-byte data buffer"},
	{"offsets reversed", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8), "tensor a: data_offsets [8 4] are not a byte range"},
	{"negative offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 8), "data_offsets [-4 0] are not a byte range"},
	{"one offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), "tensor a: data_offsets [4] must be [begin, end]"},
	{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12),
		"tensors a (bytes 0 to 8) and b (bytes 4 to 12) overlap"},
	{"same range twice", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, 4),
		"tensors a (bytes 0 to 4) and b (bytes 0 to 4) overlap"},
	{"gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12),
		"bytes 4 to 8 of the data buffer belong to no tensor"},
	{"uncovered tail", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "bytes 4 to 8 of the data buffer belong to no tensor"},
	{"uncovered start", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "bytes 0 to 4 of the data buffer belong to no tensor"},
	{"duplicate name", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4),
		`duplicate tensor name "a"`},
	{"metadata not strings", build(`{"__metadata__":{"epoch":7}}`, 0), "__metadata__ must map strings to strings"},
}

func TestReadRejects(t *testing.T) {
	for _, c := range readCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.file), int64(len(c.file)))
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestReadAccepts covers legal but unusual headers: no tensors, offsets out
// of header order, zero-size tensors sharing an offset, whitespace padding.
func TestReadAccepts(t *testing.T) {
	cases := []struct {
		name   string
		file   []byte
		tensor []string // names in buffer order
	}{
		{"no tensors", build(`{}`, 0), nil},
		{"metadata only", build(`{"__metadata__":{"a":"b"}}`, 0), nil},
		{"out of order", build(`{"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 12), []string{"a", "b"}},
		{"zero-size neighbours", build(`{"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"F64","shape":[3,0],"data_offsets":[4,4]}}`, 4), []string{"a", "z", "y"}},
		{"padded", build(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`+"      ", 1), []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(c.file), int64(len(c.file)))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ti := range f.Tensors {
				names = append(names, ti.Name)
			}
			if fmt.Sprint(names) != fmt.Sprint(c.tensor) {
				t.Errorf("tensors %v, want %v", names, c.tensor)
			}
		})
	}
}

func TestHalfToFloat32(t *testing.T) {
	cases := []struct {
		bits uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0400, 1.0 / (1 << 14)}, {0x0001, 1.0 / (1 << 24)},
		{0x03ff, 1023.0 / (1 << 24)}, {0x3555, 0.333251953125}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
		{0x8000, float32(math.Copysign(0, -1))},
	}
	for _, c := range cases {
		if got := halfToFloat32(c.bits); math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", c.bits, got, c.want)
		}
	}
	if got := halfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat32(NaN) = %v", got)
	}
}

func TestOpenNamesThePath(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, withLength(64, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+": header declares 64 bytes but the file has 3") {
		t.Errorf("Open of a truncated file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open of a missing file: %v", err)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "last.safetensors")
	if err := WriteFile(path, sample(), map[string]string{"epoch": "1"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["epoch"] != "1" || len(f.Tensors) != len(sample()) {
		t.Errorf("reopened file: metadata %v, %d tensors", f.Metadata, len(f.Tensors))
	}
	v, err := f.Float32("block1.0.bias")
	if err != nil || !tensor.SameBits(v, []float32{0.1, -0.2}) {
		t.Errorf("block1.0.bias = %v, %v", v, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	assertOnly(t, dir, "last.safetensors")
}

// TestWriteFileAtomic fails a write half-way, and with invalid input, and
// checks that the previous checkpoint survives byte for byte with no
// temporary file left next to it.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "best.safetensors")
	if err := WriteFile(path, sample()[:2], nil); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("no space left on device")
	err = atomicfile.Write(path, func(w io.Writer) error {
		if err := Write(w, sample(), nil); err != nil {
			return err
		}
		return diskFull
	})
	if !errors.Is(err, diskFull) || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("failed write returned %v", err)
	}
	err = WriteFile(path, []Tensor{{Name: "w", Shape: []int{2}, F32: []float32{1}}}, nil)
	if err == nil || !strings.Contains(err.Error(), path+": safetensors: tensor w: shape [2] needs 2 values, got 1") {
		t.Errorf("invalid WriteFile returned %v", err)
	}
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(now, old) {
		t.Errorf("the old file changed after failed writes")
	}
	assertOnly(t, dir, "best.safetensors")

	if err := WriteFile(filepath.Join(dir, "no-such-dir", "x.safetensors"), sample(), nil); err == nil {
		t.Errorf("WriteFile into a missing directory succeeded")
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("directory holds %v, want only %v", got, names)
	}
}

func BenchmarkWrite(b *testing.B) {
	ts := []Tensor{{Name: "w", Shape: []int{4 << 20}, F32: make([]float32, 4<<20)}}
	b.SetBytes(16 << 20)
	for b.Loop() {
		if err := Write(io.Discard, ts, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFloat32(b *testing.B) {
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "w", Shape: []int{4 << 20}, F32: make([]float32, 4<<20)}}, nil); err != nil {
		b.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 4<<20)
	b.SetBytes(16 << 20)
	for b.Loop() {
		if err := f.ReadFloat32("w", dst); err != nil {
			b.Fatal(err)
		}
	}
}
