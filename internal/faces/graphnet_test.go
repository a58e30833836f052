package faces

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// A tiny graph in TF.js's JSON with every op and pattern GraphNet knows:
// an odd input so SAME at stride 2 pads unevenly, both written-out PReLU
// forms, a fused depthwise with Relu, a Pad before a VALID convolution, a
// residual add, constants on either side, a reshape to a vector, a dense
// layer and an L2 norm. The expected output comes from ref below, a plain
// NHWC evaluation of the same nodes written independently of GraphNet.
// A 1x1 convolution with a batch norm as Mul and Add and a ReLU6 as Relu,
// Minimum and Maximum covers the folds of graphfold.go.

type tnode struct {
	name, op string
	in       []string
	attr     map[string]any
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func convAttr(stride int, pad string, fused ...string) map[string]any {
	a := map[string]any{
		"strides":     map[string]any{"list": map[string]any{"i": []string{"1", fmt.Sprint(stride), fmt.Sprint(stride), "1"}}},
		"padding":     map[string]any{"s": b64(pad)},
		"data_format": map[string]any{"s": b64("NHWC")},
		"dilations":   map[string]any{"list": map[string]any{"i": []string{"1", "1", "1", "1"}}},
	}
	if len(fused) > 0 {
		var s []string
		for _, f := range fused {
			s = append(s, b64(f))
		}
		a["fused_ops"] = map[string]any{"list": map[string]any{"s": s}}
	}
	return a
}

// tinyGraph returns the nodes and constant tensors (TF shapes) of the test
// graph for an s x s input.
func tinyGraph(s int, rng *rand.Rand) ([]tnode, map[string]*tensor.Tensor) {
	consts := map[string]*tensor.Tensor{}
	k := func(name string, scale float32, shape ...int) string {
		t := tensor.New(shape...)
		for i := range t.Data {
			t.Data[i] = scale * float32(rng.NormFloat64())
		}
		consts[name] = t
		return name
	}
	fixed := func(name string, vals []float32, shape ...int) string {
		consts[name] = tensor.FromData(vals, shape...)
		return name
	}
	out := (s+1)/2 + 0 // SAME, stride 2
	nodes := []tnode{
		{"x", "Placeholder", nil, map[string]any{"shape": map[string]any{"shape": map[string]any{"dim": []map[string]string{{"size": "-1"}, {"size": fmt.Sprint(s)}, {"size": fmt.Sprint(s)}, {"size": "3"}}}}}},
		{"sub0", "Sub", []string{"x", fixed("mean", []float32{0.5})}, nil},
		{"c1", "_FusedConv2D", []string{"sub0", k("c1w", 0.5, 3, 3, 3, 4), k("c1b", 0.1, 4)}, convAttr(2, "SAME", "BiasAdd")},
		{"r1", "Relu", []string{"c1"}, nil},
		{"a1", "Abs", []string{"c1"}, nil},
		{"s1", "Sub", []string{"c1", "a1"}, nil},
		{"m1", "Mul", []string{"s1", k("h1", 0.3, 4)}, nil},
		{"p1", "Add", []string{"r1", "m1"}, nil},
		{"dw", "FusedDepthwiseConv2dNative", []string{"p1", k("dww", 0.5, 3, 3, 4, 1), k("dwb", 0.1, 4)}, convAttr(1, "SAME", "BiasAdd", "Relu")},
		{"pad", "Pad", []string{"dw", fixed("pads", []float32{0, 0, 1, 1, 1, 1, 0, 0}, 4, 2)}, nil},
		{"c2", "Conv2D", []string{"pad", k("c2w", 0.4, 3, 3, 4, 4)}, convAttr(1, "VALID")},
		{"mx", "Maximum", []string{fixed("zero", []float32{0}), "c2"}, nil},
		{"mn", "Minimum", []string{"zero", "c2"}, nil},
		{"m2", "Mul", []string{k("g2", 0.3, 4), "mn"}, nil},
		{"p2", "AddV2", []string{"mx", "m2"}, nil},
		{"res", "AddV2", []string{"p2", "dw"}, nil},
		{"c3", "Conv2D", []string{"res", k("c3w", 0.8, 1, 1, 4, 4)}, convAttr(1, "VALID")},
		{"bnm", "Mul", []string{"c3", k("bnscale", 1, 4)}, nil},
		{"bn", "Add", []string{k("bnshift", 0.5, 4), "bnm"}, nil},
		{"r3", "Relu", []string{"bn"}, nil},
		{"mn3", "Minimum", []string{"r3", fixed("six", []float32{6})}, nil},
		{"cl", "Maximum", []string{"mn3", "zero"}, nil},
		{"sc", "Mul", []string{"cl", k("scale", 1, 4)}, nil},
		{"neg", "Sub", []string{fixed("one", []float32{1}), "sc"}, nil},
		{"flat", "Reshape", []string{"neg", fixed("shape", []float32{-1, float32(out * out * 4)}, 2)}, nil},
		{"fc", "MatMul", []string{"flat", k("fcw", 0.2, out*out*4, 6)}, map[string]any{"transpose_a": map[string]any{"b": false}}},
		{"sq", "Square", []string{"fc"}, nil},
		{"sum", "Sum", []string{"sq", fixed("axis", []float32{1})}, map[string]any{"keep_dims": map[string]any{"b": true}}},
		{"mxe", "Maximum", []string{"sum", fixed("eps", []float32{1e-10})}, nil},
		{"rs", "Rsqrt", []string{"mxe"}, nil},
		{"y", "Mul", []string{"fc", "rs"}, nil},
	}
	// Constant nodes for every tensor, in a shuffled place in the list:
	// the executor must order nodes itself.
	for name := range consts {
		nodes = append(nodes, tnode{name: name, op: "Const"})
	}
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	return nodes, consts
}

// encodeGraph writes nodes and constants as model.json and its shard.
func encodeGraph(t *testing.T, nodes []tnode, consts map[string]*tensor.Tensor) ([]byte, []byte) {
	t.Helper()
	var bin []byte
	var specs []map[string]any
	var jn []map[string]any
	for _, n := range nodes {
		jn = append(jn, map[string]any{"name": n.name, "op": n.op, "input": n.in, "attr": n.attr})
		if n.op != "Const" {
			continue
		}
		c := consts[n.name]
		specs = append(specs, map[string]any{"name": n.name, "shape": c.Shape, "dtype": "float32"})
		for _, v := range c.Data {
			bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
		}
	}
	js, err := json.Marshal(map[string]any{
		"format":          "graph-model",
		"modelTopology":   map[string]any{"node": jn},
		"weightsManifest": []map[string]any{{"paths": []string{"g.bin"}, "weights": specs}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return js, bin
}

func parseTestGraph(t *testing.T, js, bin []byte) (*GraphModel, error) {
	t.Helper()
	return parseGraphModel("test.json", js, func(name string, limit int64) ([]byte, error) {
		if name != "g.bin" {
			return nil, fmt.Errorf("no shard %s", name)
		}
		return bin, nil
	})
}

func TestGraphNetTinyGraph(t *testing.T) {
	const s = 8 // SAME at stride 2 pads 0 rows above, 1 below
	rng := rand.New(rand.NewPCG(3, 4))
	net, m, consts := tinyNet(t, s, rng)
	const batch = 2
	x := tensor.New(batch, 3, s, s) // NCHW for GraphNet
	nhwc := make([][]float64, batch)
	for b := range batch {
		nhwc[b] = make([]float64, s*s*3)
		for i := range nhwc[b] {
			v := float32(rng.Float64())
			nhwc[b][i] = float64(v)
			c, p := i%3, i/3
			x.Data[(b*3+c)*s*s+p] = v
		}
	}
	got, err := net.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if net.OutputLen() != 6 || len(got) != batch*6 {
		t.Fatalf("output length %d (%d per image), want 6 per image", len(got), net.OutputLen())
	}
	for b := range batch {
		want := refGraph(consts, nhwc[b], s)
		for i, w := range want {
			if d := math.Abs(float64(got[b*6+i]) - w); d > 1e-5 {
				t.Errorf("image %d value %d: %g, want %g", b, i, got[b*6+i], w)
			}
		}
	}
	// The fusions happened: both PReLU forms became one step each, and
	// the Pad is the convolution's own padding.
	ops := map[string]bool{}
	for _, st := range net.steps {
		ops[st.node] = true
	}
	for _, gone := range []string{"r1", "a1", "s1", "m1", "mx", "mn", "m2", "pad", "c3", "bnm", "r3", "mn3"} {
		if ops[gone] {
			t.Errorf("node %s was compiled; the fusion should have bypassed it", gone)
		}
	}
	// A second net from the same model gives the same output (the model
	// was not changed by compiling it).
	net2, err := NewGraphNet(m, GraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := net2.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if again[i] != got[i] {
			t.Fatalf("second compile: value %d is %g, first %g", i, again[i], got[i])
		}
	}
}

// refBin applies f elementwise over a's values (ssd_test.go's nhwc, or a
// plain vector with h = w = c = 0); b broadcasts over the last axis, or as a
// scalar.
func refBin(a, b nhwc, f func(x, y float64) float64) nhwc {
	o := nhwc{a.h, a.w, a.c, make([]float64, len(a.v))}
	for i := range a.v {
		var y float64
		switch len(b.v) {
		case len(a.v):
			y = b.v[i]
		case 1:
			y = b.v[0]
		default:
			y = b.v[i%len(b.v)]
		}
		o.v[i] = f(a.v[i], y)
	}
	return o
}

func relu64(v float64) float64 { return math.Max(v, 0) }

// refGraph evaluates the tiny graph on one NHWC image with plain loops.
func refGraph(consts map[string]*tensor.Tensor, x []float64, s int) []float64 {
	vals := map[string]nhwc{"x": {s, s, 3, x}}
	get := func(name string) nhwc {
		if v, ok := vals[name]; ok {
			return v
		}
		c := consts[name]
		d := make([]float64, len(c.Data))
		for i, v := range c.Data {
			d[i] = float64(v)
		}
		return nhwc{v: d}
	}
	mul := func(a, b float64) float64 { return a * b }
	add := func(a, b float64) float64 { return a + b }
	// Every convolution of the graph is SAME (c2's Pad of 1 before a VALID
	// 3x3 is too), which ssd_test.go's refConv computes.
	order := []string{"sub0", "c1", "p1", "dw", "c2", "p2", "res", "c3", "cl", "sc", "neg", "fc", "y"}
	for _, name := range order {
		var v nhwc
		switch name {
		case "sub0":
			v = refBin(get("x"), get("mean"), func(a, b float64) float64 { return a - b })
		case "c1":
			v = refBin(refConv(get("sub0"), consts["c1w"], 2, false), get("c1b"), add)
		case "p1":
			v = refBin(get("c1"), get("h1"), func(a, h float64) float64 { return relu64(a) + h*(a-math.Abs(a)) })
		case "dw":
			v = refBin(refConv(get("p1"), consts["dww"], 1, true), get("dwb"), func(a, b float64) float64 { return relu64(a + b) })
		case "c2":
			v = refConv(get("dw"), consts["c2w"], 1, false)
		case "p2":
			v = refBin(get("c2"), get("g2"), func(a, g float64) float64 { return math.Max(0, a) + g*math.Min(0, a) })
		case "res":
			v = refBin(get("p2"), get("dw"), add)
		case "c3":
			v = refConv(get("res"), consts["c3w"], 1, false)
		case "cl":
			v = refBin(get("c3"), get("bnscale"), mul)
			v = refBin(v, get("bnshift"), func(a, b float64) float64 { return math.Min(relu64(a+b), 6) })
		case "sc":
			v = refBin(get("cl"), get("scale"), mul)
		case "neg":
			// NHWC is already TF's flattening order, so the reshape
			// that follows is the identity here.
			v = refBin(get("sc"), get("one"), func(a, b float64) float64 { return b - a })
		case "fc":
			in, w := get("neg"), consts["fcw"]
			v = nhwc{v: make([]float64, 6)}
			for j := range 6 {
				for i, a := range in.v {
					v.v[j] += a * float64(w.Data[i*6+j])
				}
			}
		case "y":
			fc := get("fc")
			ss := 0.0
			for _, a := range fc.v {
				ss += a * a
			}
			v = refBin(fc, nhwc{v: []float64{1 / math.Sqrt(math.Max(ss, 1e-10))}}, mul)
		}
		vals[name] = v
	}
	return vals["y"].v
}

// TestGraphNetErrors: a broken or unsupported graph is an error that
// names the model and the problem, never a panic.
func TestGraphNetErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base, consts := tinyGraph(7, rng)
	edit := func(fn func(ns []tnode) []tnode) []tnode {
		ns := make([]tnode, len(base))
		copy(ns, base)
		return fn(ns)
	}
	find := func(ns []tnode, name string) int {
		for i, n := range ns {
			if n.name == name {
				return i
			}
		}
		t.Fatalf("no node %s", name)
		return -1
	}
	cases := []struct {
		name  string
		nodes []tnode
		want  string
	}{
		{"unknown op", edit(func(ns []tnode) []tnode {
			ns[find(ns, "sq")] = tnode{"sq", "Softplus", []string{"fc"}, nil}
			return ns
		}), "op Softplus is not supported"},
		{"missing input", edit(func(ns []tnode) []tnode {
			ns[find(ns, "rs")] = tnode{"rs", "Rsqrt", []string{"nowhere"}, nil}
			return ns
		}), `reads "nowhere"`},
		{"two outputs", edit(func(ns []tnode) []tnode {
			return append(ns, tnode{"extra", "Relu", []string{"fc"}, nil})
		}), "want one output node"},
		{"cycle", edit(func(ns []tnode) []tnode {
			ns[find(ns, "sub0")] = tnode{"sub0", "Sub", []string{"x", "neg"}, nil}
			return ns
		}), "cycle"},
		{"dilated", edit(func(ns []tnode) []tnode {
			i := find(ns, "c2")
			a := convAttr(1, "VALID")
			a["dilations"] = map[string]any{"list": map[string]any{"i": []string{"1", "2", "2", "1"}}}
			ns[i] = tnode{"c2", "Conv2D", ns[i].in, a}
			return ns
		}), "dilations"},
		{"bad broadcast", edit(func(ns []tnode) []tnode {
			ns[find(ns, "sc")] = tnode{"sc", "Mul", []string{"cl", "c1w"}, nil}
			return ns
		}), "cannot broadcast"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			js, bin := encodeGraph(t, c.nodes, consts)
			m, err := parseTestGraph(t, js, bin)
			if err == nil {
				_, err = NewGraphNet(m, GraphOptions{})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "test.json") {
				t.Fatalf("error %v; want one naming test.json and %q", err, c.want)
			}
		})
	}
	if _, err := parseTestGraph(t, []byte(`{"format":"layers-model"}`), nil); err == nil || !strings.Contains(err.Error(), "graph-model") {
		t.Fatalf("a layers model: %v", err)
	}
}

// TestFloat16Weights: half-precision weights (the Human library's faceres)
// decode exactly, subnormals, signed zero, infinity and all.
func TestFloat16Weights(t *testing.T) {
	halves := []uint16{0x3c00, 0xc000, 0x3555, 0x0001, 0x8000, 0x7bff, 0x7c00, 0x0400}
	want := []float32{1, -2, 0.333251953125, 5.9604645e-08, float32(math.Copysign(0, -1)), 65504, float32(math.Inf(1)), 6.1035156e-05}
	var bin []byte
	for _, h := range halves {
		bin = binary.LittleEndian.AppendUint16(bin, h)
	}
	js := fmt.Sprintf(`[{"paths":["h.bin"],"weights":[{"name":"h","shape":[%d],"dtype":"float32","quantization":{"dtype":"float16","original_dtype":"float32"}}]}]`, len(halves))
	w, err := parseWeights("h.json", []byte(js), func(string, int64) ([]byte, error) { return bin, nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range w.Tensors["h"].Data {
		if math.Float32bits(v) != math.Float32bits(want[i]) {
			t.Errorf("half %#04x: %g, want %g", halves[i], v, want[i])
		}
	}
	// A float16 shard one byte short is a truncated download.
	if _, err := parseWeights("h.json", []byte(js), func(string, int64) ([]byte, error) { return bin[:len(bin)-1], nil }); err == nil {
		t.Error("a short float16 shard was accepted")
	}
}

// tinyNet builds tinyGraph's net for an s x s input, through the JSON and
// weights encoding; it also returns the parsed model and the constants, for
// the tests that check the net against them.
func tinyNet(t *testing.T, s int, rng *rand.Rand) (*GraphNet, *GraphModel, map[string]*tensor.Tensor) {
	t.Helper()
	nodes, consts := tinyGraph(s, rng)
	js, bin := encodeGraph(t, nodes, consts)
	m, err := parseTestGraph(t, js, bin)
	if err != nil {
		t.Fatal(err)
	}
	net, err := NewGraphNet(m, GraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return net, m, consts
}

// TestGraphNetConcurrent: calls at once, each with its own input, get the
// answers they get alone (each borrows a private copy of the steps).
func TestGraphNetConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	net, _, _ := tinyNet(t, 8, rng)
	const n = 6
	inputs := make([]*tensor.Tensor, n)
	alone := make([][]float32, n)
	for k := range n {
		inputs[k] = tensor.New(1, 3, 8, 8)
		for i := range inputs[k].Data {
			inputs[k].Data[i] = float32(rng.Float64())
		}
		var err error
		if alone[k], err = net.Forward(inputs[k]); err != nil {
			t.Fatal(err)
		}
	}
	concurrently(t, n, func(k int) error {
		for range 20 {
			got, err := net.Forward(inputs[k])
			if err != nil {
				return err
			}
			for i := range got {
				if got[i] != alone[k][i] {
					return fmt.Errorf("input %d value %d: %g, alone %g", k, i, got[i], alone[k][i])
				}
			}
		}
		return nil
	})
	if _, err := net.Forward(tensor.New(1, 3, 9, 9)); err == nil || !strings.Contains(err.Error(), "test.json") {
		t.Fatalf("a wrong input size: %v", err)
	}
}

// TestArcDescriberChip: the descriptor is the net's output on the scaled
// chip, L2-normalised; BGR feeds the channels reversed; a chip of the
// wrong size is an error.
func TestArcDescriberChip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	net, _, _ := tinyNet(t, 8, rng)
	tpl := ArcFaceTemplate
	tpl.Size = 8
	d := &ArcDescriber{Name: "tiny", Net: net, Mean: 100, Div: 50, Template: tpl}
	chip := goldenPattern(8)
	got, err := d.DescribeChip(chip)
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.New(1, 3, 8, 8)
	for p := range 64 {
		for c := range 3 {
			x.Data[c*64+p] = (chip.Pix[3*p+c] - 100) / 50
		}
	}
	want, err := net.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	var ss float64
	for _, v := range want {
		ss += float64(v) * float64(v)
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])/math.Sqrt(ss)) > 1e-6 {
			t.Fatalf("value %d: %g, want %g", i, got[i], float64(want[i])/math.Sqrt(ss))
		}
	}
	// BGR on the chip equals RGB on the chip with its channels reversed.
	swapped := NewImage(8, 8)
	for p := range 64 {
		for c := range 3 {
			swapped.Pix[3*p+c] = chip.Pix[3*p+2-c]
		}
	}
	d.BGR = true
	bgr, err := d.DescribeChip(swapped)
	if err != nil {
		t.Fatal(err)
	}
	for i := range bgr {
		if bgr[i] != got[i] {
			t.Fatalf("BGR value %d: %g, RGB of the reversed chip %g", i, bgr[i], got[i])
		}
	}
	if _, err := d.DescribeChip(NewImage(9, 9)); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Fatalf("a 9x9 chip: %v", err)
	}
}
