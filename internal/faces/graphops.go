package faces

import (
	"fmt"
	"math"

	"starid/internal/tensor"
)

// The graph's elementwise and shape ops. Each kernel has its own loop per
// op (a switch inside the loop would cost more than the arithmetic).

// output returns the step's result buffer: x itself when it dies here (in
// place), else own grown to x's shape.
func output(own **tensor.Tensor, x *tensor.Tensor, dies bool, shape ...int) *tensor.Tensor {
	if dies && tensor.Numel(shape) == len(x.Data) {
		return tensor.FromData(x.Data, shape...)
	}
	if *own == nil || cap((*own).Data) < tensor.Numel(shape) {
		*own = tensor.New(shape...)
	}
	*own = tensor.FromData((*own).Data[:tensor.Numel(shape)], shape...)
	return *own
}

func (c *graphCompiler) unary(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	shape := c.shape[x]
	c.add(n.Name, []string{x}, shape, func() stepFunc {
		var own *tensor.Tensor
		return func(ins []*tensor.Tensor, dies []bool) (*tensor.Tensor, error) {
			out := output(&own, ins[0], dies[0], ins[0].Shape...)
			src := ins[0].Data
			tensor.ParallelMin(len(src), 1<<14, func(lo, hi int) {
				unaryKernel(n.Op, out.Data[lo:hi], src[lo:hi])
			})
			return out, nil
		}
	})
	return nil
}

func unaryKernel(op string, dst, src []float32) {
	switch op {
	case "Relu":
		for i, v := range src {
			b := math.Float32bits(v)
			dst[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
		}
	case "Relu6":
		// The sign test is a coin toss a branch predictor loses, so
		// negatives are cleared with a mask of the sign bit; values
		// above 6 are rare enough for a branch.
		for i, v := range src {
			b := math.Float32bits(v)
			v = math.Float32frombits(b &^ uint32(int32(b)>>31))
			if v > 6 {
				v = 6
			}
			dst[i] = v
		}
	case "Abs":
		for i, v := range src {
			dst[i] = float32(math.Abs(float64(v)))
		}
	case "Square":
		for i, v := range src {
			dst[i] = v * v
		}
	case "Rsqrt":
		for i, v := range src {
			dst[i] = float32(1 / math.Sqrt(float64(v)))
		}
	case "Sqrt":
		for i, v := range src {
			dst[i] = float32(math.Sqrt(float64(v)))
		}
	case "Neg":
		for i, v := range src {
			dst[i] = -v
		}
	}
}

// prelu compiles a fused PReLU (fuse): x where x > 0, else slope*x, the
// slope per channel.
func (c *graphCompiler) prelu(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	shape, slope := c.shape[x], c.slopes[n.Name]
	if len(shape) != 4 || (len(slope.Data) != shape[1] && len(slope.Data) != 1) {
		return fmt.Errorf("node %q: PReLU with %d slopes on %v (NCHW)", n.Name, len(slope.Data), shape)
	}
	c.add(n.Name, []string{x}, shape, func() stepFunc {
		var own *tensor.Tensor
		return func(ins []*tensor.Tensor, dies []bool) (*tensor.Tensor, error) {
			in := ins[0]
			out := output(&own, in, dies[0], in.Shape...)
			ch, plane := in.Shape[1], in.Shape[2]*in.Shape[3]
			tensor.ParallelMin(in.Shape[0]*ch, 8, func(lo, hi int) {
				for p := lo; p < hi; p++ {
					a := slope.Data[(p%ch)%len(slope.Data)]
					src, dst := in.Data[p*plane:(p+1)*plane], out.Data[p*plane:(p+1)*plane]
					for i, v := range src {
						if v < 0 {
							v *= a
						}
						dst[i] = v
					}
				}
			})
			return out, nil
		}
	})
	return nil
}

// operand is one input of a binary op: a computed value or a constant.
type operand struct {
	name  string
	konst *tensor.Tensor
	shape []int
}

func (c *graphCompiler) operand(name string) operand {
	if t, ok := c.consts[name]; ok {
		return operand{name: name, konst: t, shape: t.Shape}
	}
	return operand{name: name, shape: c.shape[name]}
}

// binary compiles Add, Sub, Mul, Maximum, Minimum and RealDiv. The result
// has the shape of a computed input; the other input is the same shape, a
// scalar, one value per channel (TF's last axis), or for a [N, C] value one
// per row ([N, 1], a keep_dims reduction).
func (c *graphCompiler) binary(n *graphNode) error {
	if len(n.Input) != 2 {
		return fmt.Errorf("node %q (%s): %d inputs, want 2", n.Name, n.Op, len(n.Input))
	}
	a, b := c.operand(n.Input[0]), c.operand(n.Input[1])
	op := n.Op
	if a.konst != nil {
		a, b = b, a
		op = swapped(op)
	}
	if a.konst != nil {
		return fmt.Errorf("node %q (%s): both inputs are constants", n.Name, n.Op)
	}
	mode, err := broadcastMode(a.shape, b)
	if err != nil {
		return fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
	}
	ins := []string{a.name}
	if b.konst == nil {
		ins = append(ins, b.name)
	}
	c.add(n.Name, ins, a.shape, func() stepFunc {
		var own *tensor.Tensor
		return func(in []*tensor.Tensor, dies []bool) (*tensor.Tensor, error) {
			x := in[0]
			bv := b.konst
			if bv == nil {
				bv = in[1]
			}
			out := output(&own, x, dies[0], x.Shape...)
			blocks, l := 1, len(x.Data)
			if mode != bcastSame {
				blocks, l = x.Shape[0], tensor.Numel(x.Shape[1:])
				if len(x.Shape) == 4 {
					blocks, l = x.Shape[0]*x.Shape[1], x.Shape[2]*x.Shape[3]
				}
			}
			binaryKernel(op, mode, out.Data, x.Data, bv.Data, blocks, l)
			return out, nil
		}
	})
	return nil
}

// swapped is the op with its operands exchanged.
func swapped(op string) string {
	switch op {
	case "Sub":
		return "RSub"
	case "RealDiv":
		return "RDiv"
	}
	return op
}

// How the second operand of a binary op spreads over the first.
const (
	bcastSame   = iota // element by element
	bcastScalar        // one value per block of the first (a plane, a row), cycling
	bcastVector        // the same vector for every block (a row)
)

func broadcastMode(a []int, b operand) (int, error) {
	nb := tensor.Numel(b.shape)
	switch {
	case b.konst == nil && len(b.shape) == len(a) && tensor.Numel(a) == nb:
		return bcastSame, nil
	case b.konst == nil && len(a) == 2 && len(b.shape) == 2 && b.shape[1] == 1:
		return bcastScalar, nil
	case b.konst != nil && nb == 1:
		return bcastScalar, nil
	case b.konst != nil && len(a) == 4 && nb == a[1]:
		return bcastScalar, nil
	case b.konst != nil && len(a) == 2 && nb == a[1]:
		return bcastVector, nil
	}
	return 0, fmt.Errorf("cannot broadcast %v onto %v", b.shape, a)
}

// binaryKernel computes dst = a op b over blocks blocks of l values of a;
// with bcastScalar block i takes b[i%len(b)], with bcastVector b[:l].
func binaryKernel(op string, mode int, dst, a, b []float32, blocks, l int) {
	tensor.ParallelMin(blocks, max(1, 4096/max(l, 1)), func(lo, hi int) {
		for blk := lo; blk < hi; blk++ {
			d, x := dst[blk*l:(blk+1)*l], a[blk*l:(blk+1)*l]
			switch mode {
			case bcastSame:
				vectorOp(op, d, x, b[blk*l:(blk+1)*l])
			case bcastVector:
				vectorOp(op, d, x, b[:l])
			default:
				scalarOp(op, d, x, b[blk%len(b)])
			}
		}
	})
}

func vectorOp(op string, d, x, y []float32) {
	y = y[:len(x)]
	switch op {
	case "Add", "AddV2":
		for i, v := range x {
			d[i] = v + y[i]
		}
	case "Sub":
		for i, v := range x {
			d[i] = v - y[i]
		}
	case "RSub":
		for i, v := range x {
			d[i] = y[i] - v
		}
	case "Mul":
		for i, v := range x {
			d[i] = v * y[i]
		}
	case "RealDiv":
		for i, v := range x {
			d[i] = v / y[i]
		}
	case "RDiv":
		for i, v := range x {
			d[i] = y[i] / v
		}
	case "Maximum":
		for i, v := range x {
			d[i] = max(v, y[i])
		}
	case "Minimum":
		for i, v := range x {
			d[i] = min(v, y[i])
		}
	}
}

func scalarOp(op string, d, x []float32, s float32) {
	switch op {
	case "Add", "AddV2":
		for i, v := range x {
			d[i] = v + s
		}
	case "Sub":
		for i, v := range x {
			d[i] = v - s
		}
	case "RSub":
		for i, v := range x {
			d[i] = s - v
		}
	case "Mul":
		for i, v := range x {
			d[i] = v * s
		}
	case "RealDiv":
		for i, v := range x {
			d[i] = v / s
		}
	case "RDiv":
		for i, v := range x {
			d[i] = s / v
		}
	case "Maximum":
		for i, v := range x {
			d[i] = max(v, s)
		}
	case "Minimum":
		for i, v := range x {
			d[i] = min(v, s)
		}
	}
}

// sum compiles Sum over the last axis of a [N, C] value.
func (c *graphCompiler) sum(n *graphNode) error {
	x, ax, err := c.reduction(n)
	if err != nil {
		return err
	}
	in := c.shape[x]
	if len(in) != 2 || len(ax.Data) != 1 || (ax.Data[0] != 1 && ax.Data[0] != -1) {
		return fmt.Errorf("node %q: Sum over axes %v of %v; only the last axis of a [N, C] value is supported", n.Name, ax.Data, in)
	}
	shape := []int{1}
	if n.Attr["keep_dims"].B {
		shape = []int{1, 1}
	}
	c.reduceRows(n, x, shape, false)
	return nil
}

// mean compiles Mean over H and W of a map (global average pooling).
func (c *graphCompiler) mean(n *graphNode) error {
	x, ax, err := c.reduction(n)
	if err != nil {
		return err
	}
	in := c.shape[x]
	if len(in) != 4 || len(ax.Data) != 2 || ax.Data[0] != 1 || ax.Data[1] != 2 {
		return fmt.Errorf("node %q: Mean over axes %v of %v (NCHW); only H and W (TF axes 1, 2) of a map are supported", n.Name, ax.Data, in)
	}
	shape := []int{1, in[1]}
	if n.Attr["keep_dims"].B {
		shape = []int{1, in[1], 1, 1}
	}
	c.reduceRows(n, x, shape, true)
	return nil
}

// reduction reads a reducing node's value and its constant axes.
func (c *graphCompiler) reduction(n *graphNode) (string, *tensor.Tensor, error) {
	x, err := c.activation(n, 0)
	if err != nil {
		return "", nil, err
	}
	ax, err := c.constant(n, 1)
	return x, ax, err
}

// reduceRows adds the step of Sum and Mean: the value's batch rows hold
// shape[1] rows each (one per output number), the rest of the value is
// split evenly among them; each row is summed in float64 (a mean also
// divided by its length) into an output of shape with the batch in front.
func (c *graphCompiler) reduceRows(n *graphNode, x string, shape []int, mean bool) {
	c.add(n.Name, []string{x}, shape, func() stepFunc {
		var own *tensor.Tensor
		return func(ins []*tensor.Tensor, _ []bool) (*tensor.Tensor, error) {
			v := ins[0]
			o := output(&own, v, false, append([]int{v.Shape[0]}, shape[1:]...)...)
			rows := len(o.Data)
			width := len(v.Data) / rows
			for r := range rows {
				var s float64
				for _, a := range v.Data[r*width : (r+1)*width] {
					s += float64(a)
				}
				if mean {
					s /= float64(width)
				}
				o.Data[r] = float32(s)
			}
			return o, nil
		}
	})
}

// reshape compiles Squeeze of a [N, C, 1, 1] map and Reshape to [N, K].
// A map flattens in TF's order (H, W, C), so the weights of a dense layer
// after it apply unchanged.
func (c *graphCompiler) reshape(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	in := c.shape[x]
	per := tensor.Numel(in[1:])
	if n.Op == "Reshape" {
		t, err := c.constant(n, 1)
		if err != nil {
			return err
		}
		if len(t.Data) != 2 || (t.Data[0] != -1 && t.Data[0] != 1) || int(t.Data[1]) != per {
			return fmt.Errorf("node %q: reshape of %v to %v; only [-1, %d] is supported", n.Name, in, t.Data, per)
		}
	} else if len(in) != 4 || in[2] != 1 || in[3] != 1 {
		return fmt.Errorf("node %q: squeeze of %v (NCHW); only a [N, C, 1, 1] map is supported", n.Name, in)
	}
	c.add(n.Name, []string{x}, []int{1, per}, func() stepFunc {
		var own *tensor.Tensor
		return func(ins []*tensor.Tensor, dies []bool) (*tensor.Tensor, error) {
			v := ins[0]
			o := output(&own, v, dies[0], v.Shape[0], per)
			if len(v.Shape) != 4 || v.Shape[2]*v.Shape[3] == 1 {
				copy(o.Data, v.Data) // a no-op when o is v's buffer
				return o, nil
			}
			if dies[0] {
				// A transpose cannot run in place.
				o = output(&own, v, false, v.Shape[0], per)
			}
			ch, plane := v.Shape[1], v.Shape[2]*v.Shape[3]
			for b := range v.Shape[0] {
				src, dst := v.Data[b*per:(b+1)*per], o.Data[b*per:(b+1)*per]
				for ci := range ch {
					for p := range plane {
						dst[p*ch+ci] = src[ci*plane+p]
					}
				}
			}
			return o, nil
		}
	})
	return nil
}

// matmul compiles MatMul of a [N, K] value by a constant matrix.
func (c *graphCompiler) matmul(n *graphNode) error {
	x, err := c.activation(n, 0)
	if err != nil {
		return err
	}
	w, err := c.constant(n, 1)
	if err != nil {
		return err
	}
	ta, tb := n.Attr["transpose_a"].B, n.Attr["transpose_b"].B
	in := c.shape[x]
	if ta || len(in) != 2 || len(w.Shape) != 2 {
		return fmt.Errorf("node %q: MatMul of %v by %v (transpose_a %v); want [N, K] by a [K, M] constant", n.Name, in, w.Shape, ta)
	}
	k, m := w.Shape[0], w.Shape[1]
	if tb {
		k, m = m, k
	}
	if k != in[1] {
		return fmt.Errorf("node %q: MatMul of %v by %v: inner sizes differ", n.Name, in, w.Shape)
	}
	c.add(n.Name, []string{x}, []int{1, m}, func() stepFunc {
		var own *tensor.Tensor
		return func(ins []*tensor.Tensor, _ []bool) (*tensor.Tensor, error) {
			v := ins[0]
			rows := v.Shape[0]
			o := output(&own, v, false, rows, m)
			tensor.Gemm(false, tb, rows, m, k, 1, v.Data, k, w.Data, w.Shape[1], 0, o.Data, m)
			return o, nil
		}
	})
	return nil
}
