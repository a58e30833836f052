package faces

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"starid/internal/tensor"
)

// Folds of the ops a Keras-converted graph (FaceRes) leaves after each
// convolution: a batch norm as Mul and Add by per-channel constants, and
// ReLU6 as Relu, Minimum(6) and Maximum(0). Unfolded they are five passes
// over every map, half of FaceRes's time.

func isConvOp(op string) bool {
	switch op {
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return true
	}
	return false
}

// addConst adds a constant made here to the graph.
func (c *graphCompiler) addConst(name string, t *tensor.Tensor) {
	c.extra[name] = t
	c.nodes[name] = &graphNode{Name: name, Op: "Const"}
}

// biasOnly sets a convolution node's fused ops to BiasAdd alone.
func biasOnly(n *graphNode) {
	n.Attr = maps.Clone(n.Attr)
	if n.Attr == nil {
		n.Attr = map[string]graphAttr{}
	}
	a := n.Attr["fused_ops"]
	a.List = &struct {
		S []string      `json:"s"`
		I []json.Number `json:"i"`
	}{S: []string{base64.StdEncoding.EncodeToString([]byte("BiasAdd"))}}
	n.Attr["fused_ops"] = a
}

// foldAffine turns Add(Mul(C, m), s), where C is a convolution that only
// the Mul reads, the Mul only the Add, and m and s per-channel constants,
// into one convolution with the filter scaled by m and the bias b*m + s;
// likewise Add(C, s), with m = 1.
func (c *graphCompiler) foldAffine(add *graphNode) {
	if len(add.Input) != 2 {
		return
	}
	var mul, conv *graphNode
	var m, s *tensor.Tensor
	either(add.Input[0], add.Input[1], func(a, b string) bool {
		mul, s = c.op(a, "Mul", 2), c.constTensor(b)
		if n := c.nodes[a]; n != nil && isConvOp(n.Op) && s != nil {
			// Add(C, s): the converter already scaled the filter.
			mul, conv = nil, n
			return true
		}
		return mul != nil && s != nil && c.users[mul.Name] == 1
	})
	if mul != nil {
		either(mul.Input[0], mul.Input[1], func(a, b string) bool {
			conv, m = c.nodes[a], c.constTensor(b)
			return conv != nil && isConvOp(conv.Op) && m != nil
		})
	}
	if conv == nil || !isConvOp(conv.Op) || (mul != nil && m == nil) || s == nil || c.users[conv.Name] != 1 || len(conv.Input) < 2 {
		return
	}
	ops, err := conv.strs("fused_ops")
	hasBias := len(ops) == 1 && ops[0] == "BiasAdd" && len(conv.Input) == 3
	if err != nil || (len(ops) > 0 && !hasBias) {
		return
	}
	f := c.constTensor(conv.Input[1])
	if f == nil || len(f.Shape) != 4 {
		return
	}
	out := f.Shape[3]
	depthwise := strings.Contains(conv.Op, "Depthwise")
	if depthwise {
		out = f.Shape[2] * f.Shape[3]
	}
	if m == nil {
		m = tensor.New(out)
		m.Fill(1)
	}
	if len(m.Data) != out || len(s.Data) != out {
		return
	}
	bias := make([]float32, out)
	if hasBias {
		b := c.constTensor(conv.Input[2])
		if b == nil || len(b.Data) != out {
			return
		}
		copy(bias, b.Data)
	}
	// Both filter layouts ([K, K, In, Out] and depthwise [K, K, C, 1])
	// end with the output channel, so value i belongs to channel i%out.
	nf := f.Clone()
	for i := range nf.Data {
		nf.Data[i] *= m.Data[i%out]
	}
	nb := tensor.New(out)
	for o := range out {
		nb.Data[o] = bias[o]*m.Data[o] + s.Data[o]
	}
	c.addConst(add.Name+"/folded_filter", nf)
	c.addConst(add.Name+"/folded_bias", nb)
	op := "_FusedConv2D"
	if depthwise {
		op = "FusedDepthwiseConv2dNative"
	}
	add.Op, add.Input, add.Attr = op, []string{conv.Input[0], add.Name + "/folded_filter", add.Name + "/folded_bias"}, conv.Attr
	biasOnly(add)
}

// fuseClamp turns Maximum(Minimum(Relu(y), 6), 0) into Relu6(y): one pass
// instead of three.
func (c *graphCompiler) fuseClamp(mx *graphNode) {
	var y string
	either(mx.Input[0], mx.Input[1], func(a, z string) bool {
		mn := c.op(a, "Minimum", 2)
		if mn == nil || !c.isConst(z, 0) {
			return false
		}
		return either(mn.Input[0], mn.Input[1], func(r, six string) bool {
			relu := c.op(r, "Relu", 1)
			if relu == nil || !c.isConst(six, 6) {
				return false
			}
			y = relu.Input[0]
			return true
		})
	})
	if y != "" {
		mx.Op, mx.Input, mx.Attr = "Relu6", []string{y}, nil
	}
}

// isConst says whether name is a Const holding the one value v.
func (c *graphCompiler) isConst(name string, v float32) bool {
	t := c.constTensor(name)
	return t != nil && len(t.Data) == 1 && t.Data[0] == v
}

// foldOrder lists the nodes by name, so that the rewrites, which read
// each other's results, happen in the same order in every run.
func (c *graphCompiler) foldOrder() []*graphNode {
	names := slices.Sorted(maps.Keys(c.nodes))
	out := make([]*graphNode, len(names))
	for i, n := range names {
		out[i] = c.nodes[n]
	}
	return out
}
