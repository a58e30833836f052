package safetensors

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"starid/internal/tensor"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read. It must never panic or allocate
// beyond the input's size; whatever it accepts must decode completely and
// survive a write and re-read unchanged. Seeds: the malformed files of
// TestReadRejects, a round-trip file, the PyTorch file and the committed
// corpus in testdata/fuzz/FuzzRead.
func FuzzRead(f *testing.F) {
	for _, c := range readCases {
		f.Add(c.file)
	}
	var buf bytes.Buffer
	if err := Write(&buf, sample(), map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	if b, err := os.ReadFile(filepath.Join("testdata", "torch.safetensors")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var out []Tensor
		var pos int64
		for _, info := range file.Tensors {
			if info.Begin != pos {
				t.Fatalf("accepted a gap or overlap at %s", info.Name)
			}
			pos = info.End
			if info.DType == F8E4M3 || info.DType == F8E5M2 {
				if _, err := file.Float32(info.Name); err == nil {
					t.Fatalf("decoded %s", info.DType)
				}
				continue
			}
			vals, err := file.Float32(info.Name)
			if err != nil {
				t.Fatalf("accepted file but %s does not decode: %v", info.Name, err)
			}
			if len(vals) != info.Numel() {
				t.Fatalf("%s: %d values for shape %v", info.Name, len(vals), info.Shape)
			}
			switch info.DType {
			case F32:
				out = append(out, Tensor{Name: info.Name, Shape: info.Shape, F32: vals})
			case I64:
				iv, err := file.Int64(info.Name)
				if err != nil {
					t.Fatalf("%s: %v", info.Name, err)
				}
				out = append(out, Tensor{Name: info.Name, Shape: info.Shape, I64: iv})
			}
		}
		if len(out) != len(file.Tensors) {
			return // other dtypes: Write cannot reproduce them
		}
		var buf bytes.Buffer
		if err := Write(&buf, out, file.Metadata); err != nil {
			t.Fatalf("cannot write back what was read: %v", err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("cannot re-read what was written: %v", err)
		}
		if fmt.Sprint(again.Metadata) != fmt.Sprint(file.Metadata) && len(file.Metadata) > 0 {
			t.Fatalf("metadata %v became %v", file.Metadata, again.Metadata)
		}
		for _, o := range out {
			info, ok := again.Info(o.Name)
			if !ok || info.DType != o.DType() || fmt.Sprint(info.Shape) != fmt.Sprint(o.Shape) {
				t.Fatalf("%s changed in the round trip: %+v", o.Name, info)
			}
			if o.I64 != nil {
				continue
			}
			v, err := again.Float32(o.Name)
			if err != nil || !tensor.SameBits(v, o.F32) {
				t.Fatalf("%s values changed in the round trip", o.Name)
			}
		}
	})
}
