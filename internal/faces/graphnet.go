package faces

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"starid/internal/tensor"
)

// GraphNet runs a TF.js graph model for inference on starid's engine.
//
// The graph is compiled once into a list of steps in topological order,
// each reading value slots and writing one. Activations are NCHW, as the
// engine's convolutions want, where TF's are NHWC: filters are transposed
// once at load, per-channel constants broadcast over planes, and a reshape
// to a vector reads in TF's order. Convolutions and depthwise convolutions
// run on nn's layers; the elementwise ops TF.js's converter leaves around
// them (PReLU written out as Relu/Abs/Sub/Mul/Add or Maximum/Minimum/Mul/Add,
// folded batch norms, the L2 norm) are recognised where they form a PReLU
// and otherwise run one by one, in place when their input is read by no
// later step.
//
// It is safe for concurrent use: like the other face nets, each call
// borrows a private copy of the steps, which own their buffers.
type GraphNet struct {
	path    string
	steps   []graphStep
	slots   int
	input   int    // slot of the Placeholder
	output  int    // slot of the result
	inShape [3]int // C, H, W the graph was compiled for
	outLen  int    // values per image in the result

	nets netPool[*graphRun]
}

// graphStep is one compiled node.
type graphStep struct {
	node  string
	ins   []int
	out   int
	dies  []bool // ins[i] is read by no later step, so its buffer may be reused
	shape []int  // output shape for one image
	build func() stepFunc
}

// stepFunc runs a step on its inputs; dies says which it may overwrite.
type stepFunc func(ins []*tensor.Tensor, dies []bool) (*tensor.Tensor, error)

// graphRun is one private copy of the compiled steps with their buffers.
type graphRun struct {
	fns   []stepFunc
	slots []*tensor.Tensor
}

// GraphOptions changes how a graph compiles.
type GraphOptions struct {
	// Repair undoes a TF.js converter fault: a PReLU whose positive part
	// was fused into the convolution before it as a Relu runs as the
	// PReLU (see reluFusedPReLU). Off, the graph runs as tfjs runs it.
	Repair bool
	// Output names the node whose value the net returns; empty means
	// the graph's one sink (a node no other node reads).
	Output string
}

// LoadGraphNet loads and compiles the graph model at path.
func LoadGraphNet(path string, opt GraphOptions) (*GraphNet, error) {
	m, err := LoadGraphModel(path)
	if err != nil {
		return nil, err
	}
	return NewGraphNet(m, opt)
}

// NewGraphNet compiles a graph model whose one sink (a node no other node
// reads) is its output.
func NewGraphNet(m *GraphModel, opt GraphOptions) (*GraphNet, error) {
	c, err := newGraphCompiler(m)
	if err != nil {
		return nil, err
	}
	c.repair, c.output = opt.Repair, opt.Output
	g, err := c.compile()
	if err != nil {
		return nil, fmt.Errorf("graph model %s: %w", m.Path, err)
	}
	g.nets = newNetPool(g.newRun)
	return g, nil
}

// InputShape is the C, H, W of one input image.
func (g *GraphNet) InputShape() (c, h, w int) { return g.inShape[0], g.inShape[1], g.inShape[2] }

// OutputLen is the number of values the net computes per image.
func (g *GraphNet) OutputLen() int { return g.outLen }

func (g *GraphNet) newRun() *graphRun {
	r := &graphRun{fns: make([]stepFunc, len(g.steps)), slots: make([]*tensor.Tensor, g.slots)}
	for i, s := range g.steps {
		r.fns[i] = s.build()
	}
	return r
}

// Forward runs the net on x [N, C, H, W] and returns the N results back to
// back (a fresh slice).
func (g *GraphNet) Forward(x *tensor.Tensor) ([]float32, error) {
	if x == nil {
		return nil, errors.New("graph net: no input")
	}
	if len(x.Shape) != 4 || x.Shape[0] < 1 || x.Shape[1] != g.inShape[0] || x.Shape[2] != g.inShape[1] ||
		x.Shape[3] != g.inShape[2] || len(x.Data) != tensor.Numel(x.Shape) {
		return nil, fmt.Errorf("graph net %s: input shape %v, want [N, %d, %d, %d]", g.path, x.Shape,
			g.inShape[0], g.inShape[1], g.inShape[2])
	}
	r := g.nets.acquire()
	defer g.nets.release(r)
	clear(r.slots)
	r.slots[g.input] = x
	ins := make([]*tensor.Tensor, 0, 4)
	for i, s := range g.steps {
		ins = ins[:0]
		for _, j := range s.ins {
			ins = append(ins, r.slots[j])
		}
		out, err := r.fns[i](ins, s.dies)
		if err != nil {
			return nil, fmt.Errorf("graph net %s: node %q: %w", g.path, s.node, err)
		}
		r.slots[s.out] = out
	}
	y := r.slots[g.output]
	if len(y.Data) != x.Shape[0]*g.outLen {
		return nil, fmt.Errorf("graph net %s: output has %d values for %d images, want %d each", g.path, len(y.Data), x.Shape[0], g.outLen)
	}
	out := make([]float32, len(y.Data))
	copy(out, y.Data)
	clear(r.slots) // drop the caller's input
	return out, nil
}

// graphCompiler turns nodes into steps.
type graphCompiler struct {
	m      *GraphModel
	nodes  map[string]*graphNode
	users  map[string]int // how many nodes read each node
	consts map[string]*tensor.Tensor
	slot   map[string]int // slot of each compiled activation
	shape  map[string][]int
	g      *GraphNet
	repair bool                      // see reluFusedPReLU
	output string                    // GraphOptions.Output
	padIn  map[string]int            // a VALID convolution's absorbed Pad (fuse)
	slopes map[string]*tensor.Tensor // a fused PReLU's slopes (fuse)
	extra  map[string]*tensor.Tensor // constants the folds made
}

func newGraphCompiler(m *GraphModel) (*graphCompiler, error) {
	c := &graphCompiler{m: m, nodes: map[string]*graphNode{}, users: map[string]int{},
		consts: map[string]*tensor.Tensor{}, slot: map[string]int{}, shape: map[string][]int{},
		g: &GraphNet{path: m.Path, input: -1}}
	for i := range m.Nodes {
		// A copy: compiling rewrites inputs (fuse) and must leave the
		// model as it was read.
		cp := m.Nodes[i]
		cp.Input = slices.Clone(cp.Input)
		n := &cp
		if n.Name == "" {
			return nil, fmt.Errorf("graph model %s: node %d has no name", m.Path, i)
		}
		if _, dup := c.nodes[n.Name]; dup {
			return nil, fmt.Errorf("graph model %s: node %q appears twice", m.Path, n.Name)
		}
		c.nodes[n.Name] = n
	}
	for _, n := range c.nodes {
		for k, in := range n.Input {
			name, err := inputName(n.Name, in)
			if err != nil {
				return nil, fmt.Errorf("graph model %s: %w", m.Path, err)
			}
			if _, ok := c.nodes[name]; !ok {
				return nil, fmt.Errorf("graph model %s: node %q reads %q, which is not in the graph", m.Path, n.Name, in)
			}
			n.Input[k] = name
			c.users[name]++
		}
	}
	return c, nil
}

// sink is the output node: the one asked for, else the one non-Const node
// nothing reads.
func (c *graphCompiler) sink() (string, error) {
	if c.output != "" {
		name, err := inputName("output", c.output)
		if err != nil {
			return "", err
		}
		if _, ok := c.nodes[name]; !ok {
			return "", fmt.Errorf("output node %q is not in the graph", c.output)
		}
		return name, nil
	}
	var sinks []string
	for _, n := range c.m.Nodes {
		if c.users[n.Name] == 0 && n.Op != "Const" {
			sinks = append(sinks, n.Name)
		}
	}
	if len(sinks) != 1 {
		return "", fmt.Errorf("want one output node (read by no other), found %d: %v", len(sinks), sinks)
	}
	return sinks[0], nil
}

// order lists the nodes the sink depends on, inputs before readers.
func (c *graphCompiler) order(sink string) ([]*graphNode, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var out []*graphNode
	// An explicit stack: a deep net must not grow the goroutine's stack
	// per node, and a cycle must be an error, not a hang.
	type frame struct {
		n    *graphNode
		next int
	}
	stack := []frame{{n: c.nodes[sink]}}
	state[sink] = visiting
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next == len(f.n.Input) {
			state[f.n.Name] = done
			out = append(out, f.n)
			stack = stack[:len(stack)-1]
			continue
		}
		in := f.n.Input[f.next]
		f.next++
		switch state[in] {
		case visiting:
			return nil, fmt.Errorf("the graph has a cycle through %q", in)
		case done:
			continue
		}
		state[in] = visiting
		stack = append(stack, frame{n: c.nodes[in]})
	}
	return out, nil
}

func (c *graphCompiler) compile() (*GraphNet, error) {
	sink, err := c.sink()
	if err != nil {
		return nil, err
	}
	c.fuse()
	nodes, err := c.order(sink)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if err := c.node(n); err != nil {
			return nil, err
		}
	}
	if c.g.input < 0 {
		return nil, errors.New("no Placeholder input")
	}
	out, ok := c.slot[sink]
	if !ok {
		return nil, fmt.Errorf("output %q is a constant", sink)
	}
	c.g.output = out
	c.g.outLen = tensor.Numel(c.shape[sink][1:])
	c.liveness()
	return c.g, nil
}

// liveness marks, for each step input, whether a later step reads it; the
// graph's input is the caller's and never overwritten.
func (c *graphCompiler) liveness() {
	last := make([]int, c.g.slots)
	for i := range last {
		last[i] = -1
	}
	for i, s := range c.g.steps {
		for _, j := range s.ins {
			last[j] = i
		}
	}
	last[c.g.output] = len(c.g.steps) // read by Forward at the end
	for i := range c.g.steps {
		s := &c.g.steps[i]
		s.dies = make([]bool, len(s.ins))
		for k, j := range s.ins {
			dup := false
			for _, o := range s.ins[:k] {
				dup = dup || o == j
			}
			s.dies[k] = last[j] == i && j != c.g.input && !dup
		}
	}
}

// add appends a step computing node from the activations ins.
func (c *graphCompiler) add(node string, ins []string, shape []int, build func() stepFunc) {
	st := graphStep{node: node, out: c.g.slots, shape: shape, build: build}
	for _, in := range ins {
		st.ins = append(st.ins, c.slot[in])
	}
	c.slot[node] = c.g.slots
	c.shape[node] = shape
	c.g.slots++
	c.g.steps = append(c.g.steps, st)
}

// activation checks that input k of n is a computed value, not a constant.
func (c *graphCompiler) activation(n *graphNode, k int) (string, error) {
	if k >= len(n.Input) {
		return "", fmt.Errorf("node %q (%s): input %d missing", n.Name, n.Op, k)
	}
	in := n.Input[k]
	if _, ok := c.slot[in]; !ok {
		return "", fmt.Errorf("node %q (%s): input %q must be computed, not a constant", n.Name, n.Op, in)
	}
	return in, nil
}

// constant returns input k of n, which must be a Const.
func (c *graphCompiler) constant(n *graphNode, k int) (*tensor.Tensor, error) {
	if k >= len(n.Input) {
		return nil, fmt.Errorf("node %q (%s): input %d missing", n.Name, n.Op, k)
	}
	t, ok := c.consts[n.Input[k]]
	if !ok {
		return nil, fmt.Errorf("node %q (%s): input %q must be a constant", n.Name, n.Op, n.Input[k])
	}
	return t, nil
}

// node compiles one node.
func (c *graphCompiler) node(n *graphNode) error {
	switch n.Op {
	case "Const":
		t := c.constTensor(n.Name)
		if t == nil {
			return fmt.Errorf("constant %q has no tensor in the weights manifest", n.Name)
		}
		c.consts[n.Name] = t
		return nil
	case "Placeholder":
		return c.placeholder(n)
	case "Identity":
		in, err := c.activation(n, 0)
		if err != nil {
			return err
		}
		c.slot[n.Name], c.shape[n.Name] = c.slot[in], c.shape[in]
		return nil
	case "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative":
		return c.conv(n)
	case "Pad":
		return c.pad(n)
	case "Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum", "RealDiv":
		return c.binary(n)
	case "Relu", "Relu6", "Abs", "Square", "Rsqrt", "Sqrt", "Neg":
		return c.unary(n)
	case "graphPReLU":
		return c.prelu(n)
	case "Sum":
		return c.sum(n)
	case "Mean":
		return c.mean(n)
	case "Squeeze", "Reshape":
		return c.reshape(n)
	case "MatMul":
		return c.matmul(n)
	}
	return fmt.Errorf("node %q: op %s is not supported", n.Name, n.Op)
}

func (c *graphCompiler) placeholder(n *graphNode) error {
	if c.g.input >= 0 {
		return fmt.Errorf("node %q: a second Placeholder; one input is supported", n.Name)
	}
	a, ok := n.Attr["shape"]
	if !ok || a.Shape == nil || len(a.Shape.Dim) != 4 {
		return fmt.Errorf("node %q: the input must have a 4-D shape [N, H, W, C]", n.Name)
	}
	var d [4]int
	for i, dim := range a.Shape.Dim {
		v, err := strconv.Atoi(string(dim.Size))
		if err != nil {
			return fmt.Errorf("node %q: input dimension %q: %w", n.Name, dim.Size, err)
		}
		d[i] = v
	}
	if d[1] < 1 || d[2] < 1 || d[3] < 1 || d[1] > MaxChipSize || d[2] > MaxChipSize || d[3] > 64 {
		return fmt.Errorf("node %q: input shape %v; want a fixed [N, H, W, C] image size", n.Name, d)
	}
	c.g.inShape = [3]int{d[3], d[1], d[2]}
	c.g.input = c.g.slots
	c.slot[n.Name] = c.g.slots
	c.shape[n.Name] = []int{1, d[3], d[1], d[2]}
	c.g.slots++
	return nil
}
