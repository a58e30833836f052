package nn

import (
	"fmt"

	"starid/internal/tensor"
)

// AvgPool2d averages square windows of each plane (PyTorch's nn.AvgPool2d
// with floor mode and count_include_pad=True: the zero padding counts, so
// every window divides by kernel*kernel).
type AvgPool2d struct {
	Base
	Kernel, Stride, Padding int

	shapeMemo
	out, dx *tensor.Tensor // own buffers, used without an arena
}

// dropsInput implements inputDropper: Backward needs only the shapes.
func (*AvgPool2d) dropsInput() bool { return true }

// NewAvgPool2d returns an average pooling layer. Like PyTorch it requires
// padding <= kernel/2; it panics on invalid arguments, which are mistakes
// in a model definition.
func NewAvgPool2d(kernel, stride, padding int) *AvgPool2d {
	checkPoolArgs("NewAvgPool2d", kernel, stride, padding)
	return &AvgPool2d{Kernel: kernel, Stride: stride, Padding: padding}
}

func (a *AvgPool2d) String() string {
	return fmt.Sprintf("AvgPool2d(kernel_size=%d, stride=%d, padding=%d)", a.Kernel, a.Stride, a.Padding)
}

// OutputShape implements Layer.
func (a *AvgPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape(a, in, a.Kernel, a.Stride, a.Padding)
}

// window returns the input rows or columns [lo, hi) that output position o
// covers, clipped to the plane (the clipped part is zero padding).
func poolWindow(o, stride, pad, k, size int) (lo, hi int) {
	lo = o*stride - pad
	return max(lo, 0), min(lo+k, size)
}

// Forward implements Layer.
func (a *AvgPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := a.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	out := a.output(&a.out, x, shape...)
	h, w, ho, wo := x.Shape[2], x.Shape[3], shape[2], shape[3]
	planes, hw, ohw := shape[0]*shape[1], h*w, ho*wo
	scale := 1 / float32(a.Kernel*a.Kernel)
	tensor.ParallelMin(planes, max(1, 4096/max(ohw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*hw : (p+1)*hw]
			dst := out.Data[p*ohw : (p+1)*ohw]
			for oy := 0; oy < ho; oy++ {
				y0, y1 := poolWindow(oy, a.Stride, a.Padding, a.Kernel, h)
				for ox := 0; ox < wo; ox++ {
					x0, x1 := poolWindow(ox, a.Stride, a.Padding, a.Kernel, w)
					var s float32
					for y := y0; y < y1; y++ {
						for _, v := range src[y*w+x0 : y*w+x1] {
							s += v
						}
					}
					dst[oy*wo+ox] = s * scale
				}
			}
		}
	})
	a.remember(a.Training, x.Shape, shape)
	return out, nil
}

// Backward implements Layer.
func (a *AvgPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := a.backwardReady(a, dy); err != nil {
		return nil, err
	}
	dx := a.inputGrad(&a.dx, dy, nil, a.inShape...)
	h, w, ho, wo := a.inShape[2], a.inShape[3], a.outShape[2], a.outShape[3]
	planes, hw, ohw := a.inShape[0]*a.inShape[1], h*w, ho*wo
	scale := 1 / float32(a.Kernel*a.Kernel)
	tensor.ParallelMin(planes, max(1, 4096/max(ohw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := dx.Data[p*hw : (p+1)*hw]
			clear(dst)
			g := dy.Data[p*ohw : (p+1)*ohw]
			for oy := 0; oy < ho; oy++ {
				y0, y1 := poolWindow(oy, a.Stride, a.Padding, a.Kernel, h)
				for ox := 0; ox < wo; ox++ {
					x0, x1 := poolWindow(ox, a.Stride, a.Padding, a.Kernel, w)
					v := g[oy*wo+ox] * scale
					for y := y0; y < y1; y++ {
						row := dst[y*w+x0 : y*w+x1]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
	})
	return dx, nil
}

// AdaptiveAvgPool2d averages each plane down (or up) to a fixed OutH x OutW
// (PyTorch's nn.AdaptiveAvgPool2d): output row i averages input rows
// [floor(i*H/OutH), ceil((i+1)*H/OutH)), and likewise for columns. When the
// input is smaller than the output, bins repeat rows and columns (VGG's
// (7, 7) pooling of a 2x2 map at 64x64 input). When the input already has
// the output size the layer is the identity and costs nothing: Forward
// returns x's data and Backward dy's, without copying.
type AdaptiveAvgPool2d struct {
	Base
	OutH, OutW int

	shapeMemo
	out, dx     *tensor.Tensor // own buffers, used without an arena
	view, dview tensor.Tensor  // identity headers, reused so a step allocates nothing
	rows, cols  []poolBin      // bins of the last Forward
}

// poolBin is the input range [lo, hi) of one output row or column.
type poolBin struct{ lo, hi int }

// NewAdaptiveAvgPool2d returns an adaptive average pooling layer to an
// outH x outW map; it panics on non-positive sizes.
func NewAdaptiveAvgPool2d(outH, outW int) *AdaptiveAvgPool2d {
	if outH < 1 || outW < 1 {
		panic(fmt.Sprintf("nn.NewAdaptiveAvgPool2d: bad output size %dx%d", outH, outW))
	}
	return &AdaptiveAvgPool2d{OutH: outH, OutW: outW}
}

func (a *AdaptiveAvgPool2d) String() string {
	return fmt.Sprintf("AdaptiveAvgPool2d(output_size=(%d, %d))", a.OutH, a.OutW)
}

// OutputShape implements Layer.
func (a *AdaptiveAvgPool2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] < 1 || in[2] < 1 || in[3] < 1 {
		return nil, shapeErr(a, in, "[N, C, H, W] with H and W at least 1")
	}
	return []int{in[0], in[1], a.OutH, a.OutW}, nil
}

// adaptiveBins is PyTorch's bin rule for one axis.
func adaptiveBins(bins []poolBin, in, out int) []poolBin {
	bins = bins[:0]
	for i := 0; i < out; i++ {
		bins = append(bins, poolBin{lo: i * in / out, hi: ((i+1)*in + out - 1) / out})
	}
	return bins
}

func (a *AdaptiveAvgPool2d) identity(in []int) bool { return in[2] == a.OutH && in[3] == a.OutW }

// Forward implements Layer.
func (a *AdaptiveAvgPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := a.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	a.remember(a.Training, x.Shape, shape)
	if a.identity(x.Shape) {
		a.view.Shape, a.view.Data = append(a.view.Shape[:0], shape...), x.Data
		return &a.view, nil
	}
	out := a.output(&a.out, x, shape...)
	h, w := x.Shape[2], x.Shape[3]
	a.rows = adaptiveBins(a.rows, h, a.OutH)
	a.cols = adaptiveBins(a.cols, w, a.OutW)
	planes, hw, ohw := shape[0]*shape[1], h*w, a.OutH*a.OutW
	tensor.ParallelMin(planes, max(1, 4096/ohw), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*hw : (p+1)*hw]
			dst := out.Data[p*ohw : (p+1)*ohw]
			for i, rb := range a.rows {
				for j, cb := range a.cols {
					var s float32
					for y := rb.lo; y < rb.hi; y++ {
						for _, v := range src[y*w+cb.lo : y*w+cb.hi] {
							s += v
						}
					}
					dst[i*a.OutW+j] = s / float32((rb.hi-rb.lo)*(cb.hi-cb.lo))
				}
			}
		}
	})
	return out, nil
}

// Backward implements Layer.
func (a *AdaptiveAvgPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := a.backwardReady(a, dy); err != nil {
		return nil, err
	}
	if a.identity(a.inShape) {
		a.dview.Shape, a.dview.Data = append(a.dview.Shape[:0], a.inShape...), dy.Data
		return &a.dview, nil
	}
	dx := a.inputGrad(&a.dx, dy, nil, a.inShape...)
	h, w := a.inShape[2], a.inShape[3]
	planes, hw, ohw := a.inShape[0]*a.inShape[1], h*w, a.OutH*a.OutW
	tensor.ParallelMin(planes, max(1, 4096/ohw), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := dx.Data[p*hw : (p+1)*hw]
			clear(dst)
			g := dy.Data[p*ohw : (p+1)*ohw]
			// Bins overlap when the input is not a multiple of the
			// output (or is smaller than it), so add.
			for i, rb := range a.rows {
				for j, cb := range a.cols {
					v := g[i*a.OutW+j] / float32((rb.hi-rb.lo)*(cb.hi-cb.lo))
					for y := rb.lo; y < rb.hi; y++ {
						row := dst[y*w+cb.lo : y*w+cb.hi]
						for k := range row {
							row[k] += v
						}
					}
				}
			}
		}
	})
	return dx, nil
}
