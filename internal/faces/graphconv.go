package faces

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// convGeom is a convolution node's geometry, read from its attributes.
type convGeom struct {
	stride                   int
	top, bottom, left, right int
	relu, relu6              bool
	bias                     bool
}

// convAttrs reads strides, dilations, data format, padding and fused ops.
// in is the input [1, C, H, W] and k the (square) kernel side.
func (c *graphCompiler) convAttrs(n *graphNode, in []int, k int) (convGeom, error) {
	var g convGeom
	strides, err := n.ints("strides")
	if err != nil {
		return g, err
	}
	if len(strides) != 4 || strides[0] != 1 || strides[3] != 1 || strides[1] != strides[2] || strides[1] < 1 {
		return g, fmt.Errorf("node %q: strides %v; want [1, s, s, 1]", n.Name, strides)
	}
	g.stride = strides[1]
	dil, err := n.ints("dilations")
	if err != nil {
		return g, err
	}
	for _, d := range dil {
		if d != 1 {
			return g, fmt.Errorf("node %q: dilations %v are not supported", n.Name, dil)
		}
	}
	if f, err := n.str("data_format"); err != nil || (f != "" && f != "NHWC") {
		return g, fmt.Errorf("node %q: data format %q; want NHWC (%v)", n.Name, f, err)
	}
	if err := c.padding(n, in, k, &g); err != nil {
		return g, err
	}
	ops, err := n.strs("fused_ops")
	if err != nil {
		return g, err
	}
	if len(ops) > 0 {
		if ops[0] != "BiasAdd" || len(ops) > 2 {
			return g, fmt.Errorf("node %q: fused ops %v; want BiasAdd, optionally then Relu or Relu6", n.Name, ops)
		}
		g.bias = true
		if len(ops) == 2 {
			switch ops[1] {
			case "Relu":
				g.relu = true
			case "Relu6":
				g.relu6 = true
			default:
				return g, fmt.Errorf("node %q: fused op %s is not supported", n.Name, ops[1])
			}
		}
	}
	return g, nil
}

// padding sets g's padding from the padding attribute: TF's SAME puts the
// odd row or column of the total at the bottom or right.
func (c *graphCompiler) padding(n *graphNode, in []int, k int, g *convGeom) error {
	mode, err := n.str("padding")
	if err != nil {
		return err
	}
	same := func(size int) (int, int) {
		out := (size + g.stride - 1) / g.stride
		total := max((out-1)*g.stride+k-size, 0)
		return total / 2, total - total/2
	}
	switch mode {
	case "SAME":
		g.top, g.bottom = same(in[2])
		g.left, g.right = same(in[3])
	case "VALID":
		p := c.padIn[n.Name]
		g.top, g.bottom, g.left, g.right = p, p, p, p
	case "EXPLICIT":
		e, err := n.ints("explicit_paddings")
		if err != nil {
			return err
		}
		if len(e) != 8 || e[0] != 0 || e[1] != 0 || e[6] != 0 || e[7] != 0 {
			return fmt.Errorf("node %q: explicit paddings %v; want 8 values padding H and W only", n.Name, e)
		}
		g.top, g.bottom, g.left, g.right = e[2], e[3], e[4], e[5]
	default:
		return fmt.Errorf("node %q: padding %q is not supported", n.Name, mode)
	}
	if in[2]+g.top+g.bottom < k || in[3]+g.left+g.right < k {
		return fmt.Errorf("node %q: a %dx%d input is smaller than the %dx%d kernel", n.Name, in[2], in[3], k, k)
	}
	return nil
}

// conv compiles Conv2D and DepthwiseConv2dNative, fused or not, onto nn's
// layers, with the filter transposed to their layout once here.
func (c *graphCompiler) conv(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	f, err := c.constant(n, 1)
	if err != nil {
		return err
	}
	depthwise := n.Op == "DepthwiseConv2dNative" || n.Op == "FusedDepthwiseConv2dNative"
	in := c.shape[x]
	if len(in) != 4 || len(f.Shape) != 4 || f.Shape[0] != f.Shape[1] || f.Shape[2] != in[1] || (depthwise && f.Shape[3] != 1) {
		return fmt.Errorf("node %q: filter %v on input %v (NCHW); want a square [K, K, %d, out] filter (out 1 for depthwise)", n.Name, f.Shape, in, in[1])
	}
	k := f.Shape[0]
	g, err := c.convAttrs(n, in, k)
	if err != nil {
		return err
	}
	var bias *tensor.Tensor
	if g.bias {
		if bias, err = c.constant(n, 2); err != nil {
			return err
		}
	}
	outC := f.Shape[3]
	var w *tensor.Tensor
	if depthwise {
		outC = in[1]
		w = depthwiseToC1HW(f)
	} else {
		w = hwioToOIHW(f)
	}
	if bias != nil && len(bias.Data) != outC {
		return fmt.Errorf("node %q: %d biases for %d output channels", n.Name, len(bias.Data), outC)
	}
	shape := []int{1, outC, (in[2]+g.top+g.bottom-k)/g.stride + 1, (in[3]+g.left+g.right-k)/g.stride + 1}
	sym := g.top == g.bottom && g.left == g.right && g.top == g.left
	build := func() stepFunc {
		rng := rand.New(rand.NewPCG(1, 2)) // the initial weights are replaced at once
		pad := 0
		var padLayer *nn.ConstantPad2d
		if sym {
			pad = g.top
		} else {
			padLayer = nn.NewConstantPad2d(g.left, g.right, g.top, g.bottom, 0)
			padLayer.SetTraining(false)
		}
		var layer nn.Layer
		if depthwise {
			d := nn.NewDepthwiseConv2d(outC, k, g.stride, pad, bias != nil, rng)
			d.Weight.Value = w
			if bias != nil {
				d.Bias.Value = bias
			}
			d.SetNeedInputGrad(false)
			layer = d
		} else {
			cv := nn.NewConv2d(in[1], outC, k, g.stride, pad, bias != nil, rng)
			cv.Weight.Value = w
			if bias != nil {
				cv.Bias.Value = bias
			}
			cv.SetNeedInputGrad(false)
			layer = cv
		}
		layer.SetTraining(false)
		return func(ins []*tensor.Tensor, _ []bool) (*tensor.Tensor, error) {
			h := ins[0]
			var err error
			if padLayer != nil {
				if h, err = padLayer.Forward(h); err != nil {
					return nil, err
				}
			}
			if h, err = layer.Forward(h); err != nil {
				return nil, err
			}
			switch {
			case g.relu:
				unaryKernel("Relu", h.Data, h.Data)
			case g.relu6:
				unaryKernel("Relu6", h.Data, h.Data)
			}
			return h, nil
		}
	}
	c.add(n.Name, []string{x}, shape, build)
	return nil
}

// pad compiles a Pad node that no convolution absorbed (fuse).
func (c *graphCompiler) pad(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	p, err := c.constant(n, 1)
	if err != nil {
		return err
	}
	in := c.shape[x]
	d := p.Data
	if len(in) != 4 || len(d) != 8 || d[0] != 0 || d[1] != 0 || d[6] != 0 || d[7] != 0 || slices.Min(d) < 0 {
		return fmt.Errorf("node %q: paddings %v on %v; want non-negative padding of H and W only", n.Name, d, in)
	}
	t, b, l, r := int(d[2]), int(d[3]), int(d[4]), int(d[5])
	shape := []int{1, in[1], in[2] + t + b, in[3] + l + r}
	c.add(n.Name, []string{x}, shape, func() stepFunc {
		layer := nn.NewConstantPad2d(l, r, t, b, 0)
		layer.SetTraining(false)
		return func(ins []*tensor.Tensor, _ []bool) (*tensor.Tensor, error) { return layer.Forward(ins[0]) }
	})
	return nil
}

// fuse rewrites two patterns before compiling. A Pad of H and W by the same
// p on every side feeding a VALID convolution becomes the convolution's own
// padding, saving a copy of the map. A PReLU the converter wrote out as
// elementwise ops becomes one graphPReLU node with its slopes:
//
//	Add(Relu(x), Mul(Sub(x, Abs(x)), h))           slope 2h (MobileFaceNet)
//	Add(Maximum(0, x), Mul(g, Minimum(0, x)))      slope g (MobileFace)
//
// The ops it bypasses stay in the graph; when nothing else reads them they
// are never reached from the output and so never compiled.
//
// Before those, graphfold.go folds batch norms into the convolutions (so
// the Pad fold sees the folded ones) and rewrites ReLU6 clamps.
func (c *graphCompiler) fuse() {
	c.padIn = map[string]int{}
	c.slopes = map[string]*tensor.Tensor{}
	c.extra = map[string]*tensor.Tensor{}
	for _, n := range c.foldOrder() {
		if n.Op == "Add" || n.Op == "AddV2" {
			c.foldAffine(n)
		}
	}
	for _, n := range c.foldOrder() {
		switch {
		case isConvOp(n.Op):
			c.fusePad(n)
		case n.Op == "Add" || n.Op == "AddV2":
			c.fusePReLU(n)
		case n.Op == "Maximum":
			c.fuseClamp(n)
		}
	}
}

func (c *graphCompiler) fusePad(n *graphNode) {
	if mode, err := n.str("padding"); err != nil || mode != "VALID" || len(n.Input) < 1 {
		return
	}
	p := c.nodes[n.Input[0]]
	if p.Op != "Pad" || len(p.Input) != 2 {
		return
	}
	t := c.constTensor(p.Input[1])
	if t == nil || len(t.Data) != 8 {
		return
	}
	d := t.Data
	v := d[2]
	if d[0] != 0 || d[1] != 0 || d[6] != 0 || d[7] != 0 || v < 0 || d[3] != v || d[4] != v || d[5] != v {
		return
	}
	n.Input[0] = p.Input[0]
	c.padIn[n.Name] = int(v)
}

// constTensor is the tensor of a Const node, nil for any other node.
func (c *graphCompiler) constTensor(name string) *tensor.Tensor {
	if n := c.nodes[name]; n == nil || n.Op != "Const" {
		return nil
	}
	if t, ok := c.extra[name]; ok {
		return t
	}
	return c.m.Weights.Tensors[name]
}

// op returns the node called name when it has op and len(inputs) inputs.
func (c *graphCompiler) op(name, op string, inputs int) *graphNode {
	n := c.nodes[name]
	if n == nil || n.Op != op || len(n.Input) != inputs {
		return nil
	}
	return n
}

// either calls try with (a, b) and then (b, a) until it returns true.
func either(a, b string, try func(a, b string) bool) bool { return try(a, b) || try(b, a) }

func (c *graphCompiler) fusePReLU(n *graphNode) {
	if len(n.Input) != 2 {
		return
	}
	var x string
	var slope *tensor.Tensor
	either(n.Input[0], n.Input[1], func(a, b string) bool {
		mul := c.op(b, "Mul", 2)
		if mul == nil {
			return false
		}
		if c.repair {
			if xr, h := c.reluFusedPReLU(a, mul); xr != "" {
				x, slope = xr, h
				return true
			}
		}
		if relu := c.op(a, "Relu", 1); relu != nil {
			// Add(Relu(x), Mul(Sub(x, Abs(x)), h)), the Mul either way round.
			return either(mul.Input[0], mul.Input[1], func(s, h string) bool {
				sub, ht := c.op(s, "Sub", 2), c.constTensor(h)
				if sub == nil || ht == nil || sub.Input[0] != relu.Input[0] {
					return false
				}
				abs := c.op(sub.Input[1], "Abs", 1)
				if abs == nil || abs.Input[0] != relu.Input[0] {
					return false
				}
				x, slope = relu.Input[0], ht.Clone()
				for i := range slope.Data {
					slope.Data[i] *= 2
				}
				return true
			})
		}
		maxi := c.op(a, "Maximum", 2)
		if maxi == nil {
			return false
		}
		// Add(Maximum(0, x), Mul(g, Minimum(0, x))), each either way round.
		return either(maxi.Input[0], maxi.Input[1], func(zero, xm string) bool {
			if !c.isZero(zero) {
				return false
			}
			return either(mul.Input[0], mul.Input[1], func(g, m string) bool {
				gt, mini := c.constTensor(g), c.op(m, "Minimum", 2)
				if gt == nil || mini == nil {
					return false
				}
				if !either(mini.Input[0], mini.Input[1], func(z, xn string) bool { return c.isZero(z) && xn == xm }) {
					return false
				}
				x, slope = xm, gt
				return true
			})
		})
	})
	if slope == nil {
		return
	}
	n.Op, n.Input, n.Attr = "graphPReLU", []string{x}, nil
	c.slopes[n.Name] = slope
}

// isZero says whether name is a Const holding one 0.
func (c *graphCompiler) isZero(name string) bool {
	t := c.constTensor(name)
	return t != nil && len(t.Data) == 1 && t.Data[0] == 0
}

// reluFusedPReLU matches Add(D, Mul(Sub(D, Abs(D)), h)) where D is a
// convolution with a fused Relu, and returns a copy of D without the Relu
// (added to the graph) and the PReLU slopes 2h. TF.js's converter wrote
// MobileFaceNet's depthwise PReLUs so: it fused the PReLU's positive part,
// Relu(x), into the convolution, which the negative part x - |x| also reads,
// so that part is always 0 and the PReLU a ReLU. Running the graph as it is
// reproduces tfjs; repairing it restores the trained net (GraphNet's
// Repair option, measured in docs/EXPERIMENTS.md).
func (c *graphCompiler) reluFusedPReLU(d string, mul *graphNode) (string, *tensor.Tensor) {
	dn := c.nodes[d]
	if dn == nil {
		return "", nil
	}
	ops, err := dn.strs("fused_ops")
	if err != nil || len(ops) != 2 || ops[0] != "BiasAdd" || ops[1] != "Relu" {
		return "", nil
	}
	var slope *tensor.Tensor
	either(mul.Input[0], mul.Input[1], func(s, h string) bool {
		sub, ht := c.op(s, "Sub", 2), c.constTensor(h)
		if sub == nil || ht == nil || sub.Input[0] != d {
			return false
		}
		if abs := c.op(sub.Input[1], "Abs", 1); abs == nil || abs.Input[0] != d {
			return false
		}
		slope = ht.Clone()
		for i := range slope.Data {
			slope.Data[i] *= 2
		}
		return true
	})
	if slope == nil {
		return "", nil
	}
	cp := *dn
	cp.Name = d + "/without_relu"
	cp.Input = slices.Clone(dn.Input)
	biasOnly(&cp)
	c.nodes[cp.Name] = &cp
	return cp.Name, slope
}
