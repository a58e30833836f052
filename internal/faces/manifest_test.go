package faces

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyManifest has a float32 [2,2] tensor, a uint8-quantized [3] tensor, a
// scalar int32 and a quantized int32, split over two shards.
const tinyManifest = `[{"paths":["t1.bin","t2.bin"],"weights":[
 {"name":"f","shape":[2,2],"dtype":"float32"},
 {"name":"q","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1,"original_dtype":"float32"}},
 {"name":"i","shape":[],"dtype":"int32"},
 {"name":"qi","shape":[2],"dtype":"int32","quantization":{"dtype":"uint8","scale":0.3,"min":0}}
]}]`

func tinyBins() ([]byte, []byte) {
	var a []byte
	for _, v := range []float32{1.5, -2, 0.25, 1e-3} {
		a = binary.LittleEndian.AppendUint32(a, math.Float32bits(v))
	}
	b := []byte{0, 3, 255}
	b = binary.LittleEndian.AppendUint32(b, uint32(0xFFFFFFFB)) // int32 -5
	b = append(b, 1, 2)                                         // 0.3, 0.6 -> round to 0, 1
	return a, b
}

func writeModel(t *testing.T, js string, bins map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "m-weights_manifest.json")
	if err := os.WriteFile(p, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	for n, b := range bins {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func TestLoadManifestTiny(t *testing.T) {
	a, b := tinyBins()
	w, err := LoadManifest(writeModel(t, tinyManifest, map[string][]byte{"t1.bin": a, "t2.bin": b}))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(w.Names) != "[f q i qi]" {
		t.Fatalf("names %v", w.Names)
	}
	want := map[string]struct {
		shape string
		data  []float32
	}{
		"f":  {"[2 2]", []float32{1.5, -2, 0.25, 1e-3}},
		"q":  {"[3]", []float32{-1, 0.5, 126.5}},
		"i":  {"[]", []float32{-5}},
		"qi": {"[2]", []float32{0, 1}},
	}
	for n, wt := range want {
		got := w.Tensors[n]
		if fmt.Sprint(got.Shape) != wt.shape || fmt.Sprint(got.Data) != fmt.Sprint(wt.data) {
			t.Errorf("%s: shape %v data %v, want %s %v", n, got.Shape, got.Data, wt.shape, wt.data)
		}
	}
}

func TestLoadManifestErrors(t *testing.T) {
	a, b := tinyBins()
	good := map[string][]byte{"t1.bin": a, "t2.bin": b}
	one := func(spec string) string { return `[{"paths":["t1.bin"],"weights":[` + spec + `]}]` }
	cases := []struct {
		name, js string
		bins     map[string][]byte
		want     []string
	}{
		{"bin too short", tinyManifest, map[string][]byte{"t1.bin": a, "t2.bin": b[:len(b)-1]}, []string{"t1.bin, t2.bin", "hold 24 bytes", "need 25"}},
		{"bin too long", tinyManifest, map[string][]byte{"t1.bin": a, "t2.bin": append(b, 0)}, []string{"t2.bin", "more than the 9"}},
		{"missing shard", tinyManifest, map[string][]byte{"t1.bin": a}, []string{"t2.bin"}},
		{"not json", `{`, good, []string{"not a TF.js weights manifest"}},
		{"bad dtype", one(`{"name":"x","shape":[1],"dtype":"float16"}`), good, []string{`tensor "x"`, `dtype "float16"`}},
		{"bad quant", one(`{"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint16","scale":1,"min":0}}`), good, []string{`tensor "x"`, "uint16"}},
		{"no scale", one(`{"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","min":0}}`), good, []string{`tensor "x"`, "scale"}},
		{"huge scale", one(`{"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":1e300,"min":0}}`), good, []string{"not finite"}},
		{"negative dim", one(`{"name":"x","shape":[-1,4],"dtype":"float32"}`), good, []string{`tensor "x"`, "negative"}},
		{"huge shape", one(`{"name":"x","shape":[100000,100000,100000],"dtype":"float32"}`), good, []string{`tensor "x"`, "too large"}},
		{"duplicate", one(`{"name":"x","shape":[1],"dtype":"float32"},{"name":"x","shape":[1],"dtype":"float32"}`), good, []string{`"x" appears twice`}},
		{"traversal", `[{"paths":["../t1.bin"],"weights":[]}]`, good, []string{`"../t1.bin"`, "plain file name"}},
		{"no paths", `[{"weights":[]}]`, good, []string{"no .bin"}},
		{"original dtype", one(`{"name":"x","shape":[1],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":0,"original_dtype":"int32"}}`), good, []string{"original_dtype"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeModel(t, c.js, c.bins)
			_, err := LoadManifest(p)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(c.want, p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestLoadRealModels loads the five fetched models when they are in the
// cache (run `starid models fetch` first; CI's setup does).
func TestLoadRealModels(t *testing.T) {
	dir, err := ModelDir()
	if err != nil {
		t.Skipf("real face models not available: %v", err)
	}
	cases := []struct {
		model  string
		count  int
		shapes map[string]string
	}{
		{TinyFaceDetector, 19, map[string]string{"conv0/filters": "[3 3 3 16]", "conv8/filters": "[1 1 512 25]"}},
		{FaceLandmark68, 49, map[string]string{"fc/weights": "[256 136]"}},
		{FaceLandmark68Tiny, 28, nil},
		{FaceRecognition, 117, map[string]string{"fc": "[256 128]", "conv32_down/conv/filters": "[7 7 3 32]"}},
		{SSDMobileNetV1, 151, nil},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			w, err := LoadManifest(ManifestPath(dir, c.model))
			if err != nil {
				t.Fatal(err)
			}
			if len(w.Names) != c.count || len(w.Tensors) != c.count {
				t.Errorf("%d names, %d tensors, want %d", len(w.Names), len(w.Tensors), c.count)
			}
			for n, s := range c.shapes {
				got, ok := w.Tensors[n]
				if !ok {
					t.Errorf("no tensor %q", n)
					continue
				}
				if fmt.Sprint(got.Shape) != s {
					t.Errorf("%s: shape %v, want %s", n, got.Shape, s)
				}
			}
			for _, n := range w.Names {
				for _, v := range w.Tensors[n].Data {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s holds %v", n, v)
					}
				}
			}
		})
	}
}

// FuzzManifest feeds arbitrary manifests and shard bytes to the decoder: it
// may refuse them, but must not panic, and what it accepts must be
// consistent (every tensor's data matches its shape).
func FuzzManifest(f *testing.F) {
	a, b := tinyBins()
	f.Add([]byte(tinyManifest), a, b)
	f.Add([]byte(`[{"paths":["t1.bin"],"weights":[{"name":"x","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","scale":1,"min":0}}]}]`), []byte{1, 2}, []byte{})
	f.Fuzz(func(t *testing.T, js, bin1, bin2 []byte) {
		shards := map[string][]byte{"t1.bin": bin1, "t2.bin": bin2}
		w, err := parseWeights("fuzz", js, func(name string, limit int64) ([]byte, error) {
			b, ok := shards[name]
			if !ok {
				return nil, os.ErrNotExist
			}
			if int64(len(b)) > limit {
				return nil, fmt.Errorf("too long")
			}
			return b, nil
		})
		if err != nil {
			return
		}
		for _, n := range w.Names {
			tt := w.Tensors[n]
			size := 1
			for _, d := range tt.Shape {
				size *= d
			}
			if size != len(tt.Data) {
				t.Fatalf("%s: shape %v with %d values", n, tt.Shape, len(tt.Data))
			}
		}
	})
}
