package faces

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A TF.js graph model (model.json with "format": "graph-model") is a
// TensorFlow GraphDef written as JSON: a flat list of nodes, each naming
// its op, its inputs (other nodes, by name) and its attributes, with the
// weights of its Const nodes in a weights manifest like the layers models'.
// The face descriptors of the Human library (MobileFaceNet and MobileFace)
// ship in this form; graphnet.go runs them.

type graphFile struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []graphNode `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest json.RawMessage `json:"weightsManifest"`
}

type graphNode struct {
	Name  string               `json:"name"`
	Op    string               `json:"op"`
	Input []string             `json:"input"`
	Attr  map[string]graphAttr `json:"attr"`
}

// graphAttr is one attribute value; GraphDef's JSON writes strings as
// base64 and 64-bit integers as decimal strings.
type graphAttr struct {
	S    string      `json:"s"`
	I    json.Number `json:"i"`
	F    json.Number `json:"f"`
	B    bool        `json:"b"`
	List *struct {
		S []string      `json:"s"`
		I []json.Number `json:"i"`
	} `json:"list"`
	Shape *struct {
		Dim []struct {
			Size json.Number `json:"size"`
		} `json:"dim"`
	} `json:"shape"`
}

// GraphModel is a parsed graph model: its nodes and its Const tensors.
type GraphModel struct {
	Path    string // model.json, for errors
	Nodes   []graphNode
	Weights *Weights
}

// maxGraphJSON bounds model.json: the real ones are 50-200 kB of topology.
const maxGraphJSON = 64 << 20

// LoadGraphModel reads a graph model's JSON and the .bin shards beside it.
func LoadGraphModel(path string) (*GraphModel, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("graph model: %w", err)
	}
	if st.Size() > maxGraphJSON {
		return nil, fmt.Errorf("graph model %s: %d bytes, more than the %d a model topology needs", path, st.Size(), maxGraphJSON)
	}
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graph model: %w", err)
	}
	return parseGraphModel(path, js, shardReader(filepath.Dir(path)))
}

func parseGraphModel(where string, js []byte, readShard func(string, int64) ([]byte, error)) (*GraphModel, error) {
	var f graphFile
	if err := json.Unmarshal(js, &f); err != nil {
		return nil, fmt.Errorf("%s: not a TF.js graph model: %w", where, err)
	}
	if f.Format != "graph-model" {
		return nil, fmt.Errorf("%s: format %q, want graph-model", where, f.Format)
	}
	if len(f.ModelTopology.Node) == 0 {
		return nil, fmt.Errorf("%s: the model has no nodes", where)
	}
	if len(f.WeightsManifest) == 0 {
		return nil, fmt.Errorf("%s: no weightsManifest", where)
	}
	w, err := parseWeights(where, f.WeightsManifest, readShard)
	if err != nil {
		return nil, err
	}
	return &GraphModel{Path: where, Nodes: f.ModelTopology.Node, Weights: w}, nil
}

// str is a string attribute (base64 in the JSON).
func (n *graphNode) str(key string) (string, error) {
	a, ok := n.Attr[key]
	if !ok {
		return "", nil
	}
	b, err := base64.StdEncoding.DecodeString(a.S)
	if err != nil {
		return "", fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
	}
	return string(b), nil
}

// strs is a list-of-strings attribute (each base64).
func (n *graphNode) strs(key string) ([]string, error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
		}
		out[i] = string(b)
	}
	return out, nil
}

// ints is a list-of-integers attribute.
func (n *graphNode) ints(key string) ([]int, error) {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]int, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.Atoi(string(s))
		if err != nil {
			return nil, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
		}
		out[i] = v
	}
	return out, nil
}

// float is a float attribute (0 when absent).
func (n *graphNode) float(key string) (float64, error) {
	a, ok := n.Attr[key]
	if !ok || a.F == "" {
		return 0, nil
	}
	v, err := a.F.Float64()
	if err != nil {
		return 0, fmt.Errorf("node %q: attribute %s: %w", n.Name, key, err)
	}
	return v, nil
}

// inputName strips an input reference to the node it names: "x:0" is the
// first output of x. Control inputs ("^x") and later outputs are refused:
// none of the ops run here has them.
func inputName(node, in string) (string, error) {
	if strings.HasPrefix(in, "^") {
		return "", fmt.Errorf("node %q: control input %q is not supported", node, in)
	}
	name, port, ok := strings.Cut(in, ":")
	if ok && port != "0" {
		return "", fmt.Errorf("node %q: input %q reads output %s; only single-output ops are supported", node, in, port)
	}
	return name, nil
}
