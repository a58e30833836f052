package faces

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/tensor"
)

// A TF.js weights manifest (model-weights_manifest.json) is a JSON list of
// groups. Each group names its binary shards and the tensors stored in them,
// back to back in manifest order, across the shards concatenated.
type manifestGroup struct {
	Paths   []string     `json:"paths"`
	Weights []weightSpec `json:"weights"`
}

type weightSpec struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

// quantization stores a tensor as one byte per value: w = q*scale + min.
// original_dtype appears in newer TF.js converters; dtype is the one that
// tells what the decoded tensor is, so original_dtype is only checked for
// consistency with it.
type quantization struct {
	DType         string   `json:"dtype"`
	Scale         *float64 `json:"scale"`
	Min           *float64 `json:"min"`
	OriginalDType string   `json:"original_dtype"`
}

// Weights is a loaded model: every tensor by name, and the names in manifest
// order (the order the nets' code reads them in).
type Weights struct {
	Names   []string
	Tensors map[string]*tensor.Tensor
}

// maxWeightBytes bounds what one manifest may ask for, so a hostile or broken
// manifest cannot make the loader allocate more than the largest real model
// needs many times over (the recognition net is 6.4 MB).
const maxWeightBytes = 1 << 30

// loadNet reads the weights of the net named by manifest from modelDir, the
// folder holding model/ (see ModelDir), and builds the net with build.
func loadNet[T any](modelDir, manifest string, build func(*Weights) (T, error)) (T, error) {
	w, err := LoadManifest(ManifestPath(modelDir, manifest))
	if err != nil {
		var zero T
		return zero, err
	}
	return build(w)
}

// LoadManifest reads a TF.js weights manifest and its .bin shards, which
// must sit in the manifest's folder, and returns the decoded float32 tensors.
// int32 tensors (a few constants in the SSD detector) are converted to
// float32 too, since every consumer does arithmetic on them in float32.
func LoadManifest(path string) (*Weights, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights manifest: %w", err)
	}
	return parseWeights(path, js, shardReader(filepath.Dir(path)))
}

// shardReader reads the .bin shards a manifest in dir names.
func shardReader(dir string) func(name string, limit int64) ([]byte, error) {
	return func(name string, limit int64) ([]byte, error) {
		p := filepath.Join(dir, name)
		// Compare sizes before reading, so a shard far larger than the
		// manifest describes is refused without loading it.
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if st.Size() > limit {
			return nil, fmt.Errorf("%s: %d bytes, more than the %d the manifest's remaining tensors need", p, st.Size(), limit)
		}
		return os.ReadFile(p)
	}
}

// parseWeights decodes a manifest whose shards come from readShard: given a
// shard's name and the most bytes it may still hold, it returns its content.
// where names the manifest in errors.
func parseWeights(where string, js []byte, readShard func(name string, want int64) ([]byte, error)) (*Weights, error) {
	var groups []manifestGroup
	if err := json.Unmarshal(js, &groups); err != nil {
		return nil, fmt.Errorf("%s: not a TF.js weights manifest: %w", where, err)
	}
	w := &Weights{Tensors: map[string]*tensor.Tensor{}}
	var total int64
	for gi, g := range groups {
		if len(g.Paths) == 0 {
			return nil, fmt.Errorf("%s: group %d lists no .bin files", where, gi)
		}
		// Sizes first: the whole group is validated before any shard is read.
		sizes := make([]int64, len(g.Weights))
		var need int64
		for i, ws := range g.Weights {
			n, err := ws.byteCount()
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", where, ws.Name, err)
			}
			if ws.Name == "" {
				return nil, fmt.Errorf("%s: group %d, tensor %d has no name", where, gi, i)
			}
			if _, dup := w.Tensors[ws.Name]; dup {
				return nil, fmt.Errorf("%s: tensor %q appears twice", where, ws.Name)
			}
			sizes[i] = n
			need += n
			total += n
			if total > maxWeightBytes {
				return nil, fmt.Errorf("%s: tensor %q: the manifest asks for more than %d bytes", where, ws.Name, int64(maxWeightBytes))
			}
			// Reserve the name now so a duplicate inside one group is caught.
			w.Tensors[ws.Name] = nil
			w.Names = append(w.Names, ws.Name)
		}
		buf, err := readGroup(where, g.Paths, need, readShard)
		if err != nil {
			return nil, err
		}
		off := int64(0)
		for i, ws := range g.Weights {
			w.Tensors[ws.Name] = ws.decode(buf[off : off+sizes[i]])
			off += sizes[i]
		}
	}
	return w, nil
}

// readGroup reads a group's shards in order and checks that together they
// hold exactly need bytes: fewer means a truncated download, more means the
// manifest and the weights come from different models.
func readGroup(where string, paths []string, need int64, readShard func(string, int64) ([]byte, error)) ([]byte, error) {
	var buf []byte
	for _, p := range paths {
		// Shards live beside the manifest; anything else is not a shard name
		// a converter writes, and must not reach outside the folder.
		if p == "" || p != filepath.Base(p) || strings.ContainsAny(p, `/\`) || p == "." || p == ".." {
			return nil, fmt.Errorf("%s: shard name %q is not a plain file name", where, p)
		}
		b, err := readShard(p, need-int64(len(buf)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if int64(len(buf))+int64(len(b)) > need {
			return nil, fmt.Errorf("%s: shard %s: the .bin files hold more than the %d bytes the manifest's tensors need", where, p, need)
		}
		buf = append(buf, b...)
	}
	if int64(len(buf)) != need {
		return nil, fmt.Errorf("%s: shards %s hold %d bytes, but the manifest's tensors need %d", where, strings.Join(paths, ", "), len(buf), need)
	}
	return buf, nil
}

// byteCount validates the spec and returns how many bytes it occupies.
func (ws weightSpec) byteCount() (int64, error) {
	n := int64(1)
	for _, d := range ws.Shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", ws.Shape)
		}
		if d > 0 && n > maxWeightBytes/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", ws.Shape)
		}
		n *= int64(d)
	}
	switch ws.DType {
	case "float32", "int32":
	default:
		return 0, fmt.Errorf("dtype %q is not supported (float32 or int32)", ws.DType)
	}
	q := ws.Quantization
	if q == nil {
		return 4 * n, nil
	}
	if q.DType == "float16" && ws.DType == "float32" {
		// Half precision: two bytes a value, no scale (the Human
		// library's graph models).
		return 2 * n, nil
	}
	if q.DType != "uint8" {
		return 0, fmt.Errorf("quantization dtype %q is not supported (uint8, or float16 for float32)", q.DType)
	}
	if q.Scale == nil || q.Min == nil {
		return 0, fmt.Errorf("uint8 quantization without scale and min")
	}
	if !finite32(*q.Scale) || !finite32(*q.Min) {
		return 0, fmt.Errorf("quantization scale %g, min %g: not finite float32 values", *q.Scale, *q.Min)
	}
	if q.OriginalDType != "" && q.OriginalDType != ws.DType {
		return 0, fmt.Errorf("original_dtype %q differs from dtype %q", q.OriginalDType, ws.DType)
	}
	return n, nil
}

func finite32(v float64) bool {
	return !math.IsNaN(v) && math.Abs(v) <= math.MaxFloat32
}

// decode turns the spec's bytes (already sized by byteCount) into a tensor.
func (ws weightSpec) decode(b []byte) *tensor.Tensor {
	var out []float32
	if q := ws.Quantization; q != nil && q.DType == "float16" {
		out = make([]float32, len(b)/2)
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	} else if q != nil {
		out = make([]float32, len(b))
		scale, lo := *q.Scale, *q.Min
		for i, v := range b {
			x := float64(v)*scale + lo
			if ws.DType == "int32" {
				// TF.js rounds dequantized integers to the nearest.
				x = math.Round(x)
			}
			out[i] = float32(x)
		}
	} else {
		out = make([]float32, len(b)/4)
		for i := range out {
			u := binary.LittleEndian.Uint32(b[4*i:])
			if ws.DType == "int32" {
				out[i] = float32(int32(u))
			} else {
				out[i] = math.Float32frombits(u)
			}
		}
	}
	return tensor.FromData(out, ws.Shape...)
}

// tensorSpec is one tensor a net reads, with its TF.js shape.
type tensorSpec struct {
	name  string
	shape []int
}

// pick checks that w holds every tensor of specs with its exact shape
// (extra tensors are ignored, as face-api ignores them) and returns them by
// name. The error, for the net called net, names the first problem, counts
// the others and the manifest the weights should have come from.
func (w *Weights) pick(net, manifest string, specs []tensorSpec) (map[string]*tensor.Tensor, error) {
	if w == nil {
		return nil, fmt.Errorf("%s: no weights", net)
	}
	get := make(map[string]*tensor.Tensor, len(specs))
	var problems []string
	for _, s := range specs {
		t := w.Tensors[s.name]
		switch {
		case t == nil:
			problems = append(problems, fmt.Sprintf("tensor %q is missing", s.name))
		case !tensor.ShapeEq(t.Shape, s.shape) || len(t.Data) != tensor.Numel(s.shape):
			problems = append(problems, fmt.Sprintf("tensor %q has shape %s, want %s",
				s.name, tensor.ShapeString(t.Shape), tensor.ShapeString(s.shape)))
		default:
			get[s.name] = t
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s weights: %s%s (is this the %s manifest?)",
			net, problems[0], more(len(problems)-1), manifest)
	}
	return get, nil
}

// halfToFloat widens an IEEE 754 half-precision value (the standard library
// has no float16; the conversion is exact, so a few lines suffice).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24, exact in float32.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}
