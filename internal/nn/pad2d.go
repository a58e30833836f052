package nn

import (
	"fmt"
	"math"
	"strconv"

	"starid/internal/tensor"
)

// ConstantPad2d surrounds each plane of an NCHW tensor with a border of a
// constant value (PyTorch's nn.ConstantPad2d; padding is given left, right,
// top, bottom in that order). It exists for TensorFlow's 'SAME' padding,
// which is asymmetric when the kernel overruns the input by an odd amount:
// a pad layer followed by an unpadded convolution (value 0) or max pool
// (value -Inf, so the border never wins) reproduces it exactly. Unlike
// PyTorch it takes no negative (cropping) padding.
type ConstantPad2d struct {
	Base
	Left, Right, Top, Bottom int
	Value                    float32

	shapeMemo
	out, dx *tensor.Tensor
}

// NewConstantPad2d returns a padding layer. It panics on negative padding,
// a mistake in a model definition.
func NewConstantPad2d(left, right, top, bottom int, value float32) *ConstantPad2d {
	if left < 0 || right < 0 || top < 0 || bottom < 0 {
		panic(fmt.Sprintf("nn.NewConstantPad2d: negative padding (%d, %d, %d, %d)", left, right, top, bottom))
	}
	return &ConstantPad2d{Left: left, Right: right, Top: top, Bottom: bottom, Value: value}
}

// dropsInput implements inputDropper: Backward needs only the shapes.
func (*ConstantPad2d) dropsInput() bool { return true }

func (p *ConstantPad2d) String() string {
	return fmt.Sprintf("ConstantPad2d(padding=(%d, %d, %d, %d), value=%s)", p.Left, p.Right, p.Top, p.Bottom, pyFloat(p.Value))
}

// pyFloat formats v the way Python prints the number: "-inf", "nan", "0.1".
func pyFloat(v float32) string {
	switch f := float64(v); {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

// OutputShape implements Layer.
func (p *ConstantPad2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] < 1 || in[2] < 1 || in[3] < 1 {
		return nil, shapeErr(p, in, "[N, C, H, W]")
	}
	return []int{in[0], in[1], in[2] + p.Top + p.Bottom, in[3] + p.Left + p.Right}, nil
}

// Forward implements Layer.
func (p *ConstantPad2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := p.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	out := p.output(&p.out, x, shape...)
	h, w, oh, ow := x.Shape[2], x.Shape[3], shape[2], shape[3]
	hw, ohw := h*w, oh*ow
	v := p.Value
	tensor.ParallelMin(shape[0]*shape[1], max(1, 1<<16/ohw), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x.Data[pl*hw : (pl+1)*hw]
			dst := out.Data[pl*ohw : (pl+1)*ohw]
			fill(dst[:p.Top*ow], v)
			for y := 0; y < h; y++ {
				row := dst[(p.Top+y)*ow : (p.Top+y+1)*ow]
				fill(row[:p.Left], v)
				copy(row[p.Left:p.Left+w], src[y*w:(y+1)*w])
				fill(row[p.Left+w:], v)
			}
			fill(dst[(p.Top+h)*ow:], v)
		}
	})
	p.remember(p.Training, x.Shape, shape)
	return out, nil
}

// Backward implements Layer: the border is a constant, so dL/dx is the
// interior of dy.
func (p *ConstantPad2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := p.backwardReady(p, dy); err != nil {
		return nil, err
	}
	dx := p.inputGrad(&p.dx, dy, nil, p.inShape...)
	h, w, ow := p.inShape[2], p.inShape[3], p.outShape[3]
	hw, ohw := h*w, p.outShape[2]*ow
	tensor.ParallelMin(p.inShape[0]*p.inShape[1], max(1, 1<<16/hw), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := dy.Data[pl*ohw : (pl+1)*ohw]
			dst := dx.Data[pl*hw : (pl+1)*hw]
			for y := 0; y < h; y++ {
				copy(dst[y*w:(y+1)*w], src[(p.Top+y)*ow+p.Left:])
			}
		}
	})
	return dx, nil
}
