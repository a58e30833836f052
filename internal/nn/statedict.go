package nn

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"starid/internal/safetensors"
	"starid/internal/tensor"
)

// OptimPrefix starts the name of every checkpoint entry that is not model
// state: optimizer moments, step counts. A "last" checkpoint holds the model
// and its optimizer in one file so they can never get out of step; loading
// a model from it skips these entries.
const OptimPrefix = "optim."

// SaveStateDict writes model's state dict to path in safetensors format,
// atomically, under PyTorch's names and in PyTorch's order, so the file
// loads with torch's load_state_dict too. Parameters and float buffers are
// F32; buffers marked Param.Int64 (num_batches_tracked) are I64 as PyTorch
// keeps them. metadata may be nil; "format": "pt" is added unless set, the
// marker other safetensors tools use for PyTorch files.
func SaveStateDict(path string, model Layer, metadata map[string]string) error {
	return WriteTensors(path, model, nil, metadata)
}

// LoadStateDict loads path into model, strictly like PyTorch's
// load_state_dict(strict=True): every missing key, unexpected key and shape
// mismatch is reported together in one *StateDictError naming the file,
// and the model is left unchanged. Entries under OptimPrefix are ignored.
func LoadStateDict(path string, model Layer) error {
	_, _, err := ReadTensors(path, model)
	return err
}

// WriteTensors is SaveStateDict with extra entries after the model's, each
// named under OptimPrefix (an optimizer's state for resuming training).
// Nothing is copied for float32 values: the file is written straight from
// the parameters.
func WriteTensors(path string, model Layer, extra []safetensors.Tensor, metadata map[string]string) error {
	ts := StateTensors(model)
	for _, e := range extra {
		if !strings.HasPrefix(e.Name, OptimPrefix) {
			return fmt.Errorf("%s: extra tensor %q must be named under %q to stay apart from the model's state", path, e.Name, OptimPrefix)
		}
		ts = append(ts, e)
	}
	meta := maps.Clone(metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	if _, ok := meta["format"]; !ok {
		meta["format"] = "pt"
	}
	return safetensors.WriteFile(path, ts, meta)
}

// StateTensors is the model's state dict as safetensors entries: float32
// values are shared with the parameters, not copied; Int64 buffers are
// converted.
func StateTensors(model Layer) []safetensors.Tensor {
	sd := StateDict(model)
	ts := make([]safetensors.Tensor, 0, len(sd))
	for _, nt := range sd {
		v := nt.Param.Value
		t := safetensors.Tensor{Name: nt.Name, Shape: v.Shape}
		if nt.Param.Int64 {
			t.I64 = make([]int64, len(v.Data))
			for i, x := range v.Data {
				t.I64[i] = int64(x)
			}
		} else {
			t.F32 = v.Data
		}
		ts = append(ts, t)
	}
	return ts
}

// ReadTensors loads the model's state from path as LoadStateDict does and
// returns the entries under OptimPrefix, in file order and with their full
// names (integer dtypes as I64, the rest as F32), and the file's metadata.
// The model is changed only when the whole state dict matches; a read error
// after that point (the file shrinking underneath) can leave it partly
// loaded, which the returned error says.
func ReadTensors(path string, model Layer) (extra []safetensors.Tensor, metadata map[string]string, err error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()

	sd := StateDict(model)
	want := make(map[string]*Param, len(sd))
	for _, nt := range sd {
		want[nt.Name] = nt.Param
	}
	problem := &StateDictError{Path: path}
	found := make(map[string]bool, len(sd))
	var extraInfo []safetensors.Info
	for _, info := range f.Tensors {
		if strings.HasPrefix(info.Name, OptimPrefix) {
			if !info.DType.Decodable() {
				problem.Unsupported = append(problem.Unsupported, info.Name+" ("+string(info.DType)+")")
			}
			extraInfo = append(extraInfo, info)
			continue
		}
		p, ok := want[info.Name]
		if !ok {
			problem.Unexpected = append(problem.Unexpected, info.Name)
			continue
		}
		found[info.Name] = true
		if !tensor.ShapeEq(info.Shape, p.Value.Shape) {
			problem.Mismatched = append(problem.Mismatched, fmt.Sprintf("%s: checkpoint has %s, model has %s",
				info.Name, tensor.ShapeString(info.Shape), tensor.ShapeString(p.Value.Shape)))
		}
		if !info.DType.Decodable() {
			problem.Unsupported = append(problem.Unsupported, info.Name+" ("+string(info.DType)+")")
		}
	}
	for _, nt := range sd {
		if !found[nt.Name] {
			problem.Missing = append(problem.Missing, nt.Name)
		}
	}
	if problem.count() > 0 {
		return nil, nil, problem
	}

	for _, nt := range sd {
		if err := f.ReadFloat32(nt.Name, nt.Param.Value.Data); err != nil {
			return nil, nil, fmt.Errorf("%w (the model may be partly loaded)", err)
		}
	}
	for _, info := range extraInfo {
		t := safetensors.Tensor{Name: info.Name, Shape: info.Shape}
		if info.DType.IsInteger() {
			t.I64, err = f.Int64(info.Name)
		} else {
			t.F32, err = f.Float32(info.Name)
		}
		if err != nil {
			return nil, nil, err
		}
		extra = append(extra, t)
	}
	return extra, f.Metadata, nil
}

// StateDictError lists everything that keeps a checkpoint from loading into
// a model, so one failed attempt shows the whole difference.
type StateDictError struct {
	Path        string
	Missing     []string // model entries the file lacks
	Unexpected  []string // file entries the model lacks (outside OptimPrefix)
	Mismatched  []string // "name: checkpoint has [..], model has [..]"
	Unsupported []string // entries whose dtype cannot be decoded, "name (dtype)"
}

func (e *StateDictError) count() int {
	return len(e.Missing) + len(e.Unexpected) + len(e.Mismatched) + len(e.Unsupported)
}

// Error follows PyTorch's load_state_dict message: one line per kind of
// problem, indented under a line that names the file.
func (e *StateDictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: state dict does not fit the model", e.Path)
	list := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = strconv.Quote(n)
		}
		fmt.Fprintf(&b, "\n\t%s: %s", title, strings.Join(quoted, ", "))
	}
	list("missing keys", e.Missing)
	list("unexpected keys", e.Unexpected)
	for _, m := range e.Mismatched {
		fmt.Fprintf(&b, "\n\tsize mismatch for %s", m)
	}
	list("undecodable dtypes", e.Unsupported)
	return b.String()
}
