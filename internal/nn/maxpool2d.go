package nn

import (
	"fmt"
	"math"

	"starid/internal/cpu"
	"starid/internal/tensor"
)

// MaxPool2d takes the maximum over square windows of each plane (PyTorch's
// nn.MaxPool2d with floor mode; the padding counts as -inf, so it never
// wins). Forward records where each maximum came from, as an int32 offset
// inside its input plane, and Backward routes the gradient there. On ties
// the first maximum in row-major window order wins, and a NaN wins over
// everything, as in PyTorch.
type MaxPool2d struct {
	Base
	Kernel, Stride, Padding int

	shapeMemo
	argmax  []int32
	out, dx *tensor.Tensor // own buffers, used without an arena
}

// dropsInput implements inputDropper: Backward needs only the argmax.
func (*MaxPool2d) dropsInput() bool { return true }

// NewMaxPool2d returns a max pooling layer. Like PyTorch it requires
// padding <= kernel/2 (so no window lies entirely in the padding); it
// panics on invalid arguments, which are mistakes in a model definition.
func NewMaxPool2d(kernel, stride, padding int) *MaxPool2d {
	checkPoolArgs("NewMaxPool2d", kernel, stride, padding)
	return &MaxPool2d{Kernel: kernel, Stride: stride, Padding: padding}
}

func checkPoolArgs(fn string, kernel, stride, padding int) {
	if kernel < 1 || stride < 1 || padding < 0 || padding > kernel/2 {
		panic(fmt.Sprintf("nn.%s: bad arguments kernel=%d stride=%d padding=%d (padding must be at most kernel/2)",
			fn, kernel, stride, padding))
	}
}

func (m *MaxPool2d) String() string {
	return fmt.Sprintf("MaxPool2d(kernel_size=%d, stride=%d, padding=%d)", m.Kernel, m.Stride, m.Padding)
}

func (m *MaxPool2d) geom(in []int) tensor.ConvGeom {
	return tensor.ConvGeom{C: 1, H: in[2], W: in[3], K: m.Kernel, Stride: m.Stride, Pad: m.Padding}
}

// OutputShape implements Layer.
func (m *MaxPool2d) OutputShape(in []int) ([]int, error) {
	return poolOutputShape(m, in, m.Kernel, m.Stride, m.Padding)
}

func poolOutputShape(l Layer, in []int, kernel, stride, padding int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] < 1 || in[2]+2*padding < kernel || in[3]+2*padding < kernel {
		return nil, shapeErr(l, in, "[N, C, H, W] with H and W at least %d", max(kernel-2*padding, 1))
	}
	g := tensor.ConvGeom{H: in[2], W: in[3], K: kernel, Stride: stride, Pad: padding}
	return []int{in[0], in[1], g.OutH(), g.OutW()}, nil
}

// Forward implements Layer.
func (m *MaxPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := m.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	out := m.output(&m.out, x, shape...)
	planes, hw, ohw := shape[0]*shape[1], x.Shape[2]*x.Shape[3], shape[2]*shape[3]
	// Evaluation needs no argmax: the kernels skip it, and a layer that
	// never trains never allocates it (100 MB at VGG16's first pooling).
	var argmax []int32
	if m.Training {
		if cap(m.argmax) < len(out.Data) {
			m.argmax = make([]int32, len(out.Data))
		}
		m.argmax = m.argmax[:len(out.Data)]
		argmax = m.argmax
	}
	g := m.geom(x.Shape)
	fast := m.Kernel == 2 && m.Stride == 2 && m.Padding == 0
	slide := m.Kernel == 2 && m.Stride == 1 && m.Padding == 0 && argmax == nil
	k3s2 := m.Kernel == 3 && m.Stride == 2 && m.Padding == 0 && argmax == nil
	vec := cpu.HasAVX2FMA()
	tensor.ParallelMin(planes, max(1, 4096/max(ohw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*hw : (p+1)*hw]
			dst := out.Data[p*ohw : (p+1)*ohw]
			var idx []int32
			if argmax != nil {
				idx = argmax[p*ohw : (p+1)*ohw]
			}
			switch {
			case fast:
				maxPool2x2(src, g.W, shape[2], shape[3], dst, idx, vec)
			case slide:
				maxPool2x2Slide(src, g.W, shape[2], shape[3], dst)
			case k3s2:
				maxPool3x3s2Values(src, g.W, shape[2], shape[3], dst)
			case idx == nil:
				maxPoolPlaneValues(g, src, shape[2], shape[3], dst)
			default:
				maxPoolPlane(g, src, shape[2], shape[3], dst, idx)
			}
		}
	})
	m.remember(m.Training, x.Shape, shape)
	return out, nil
}

// better reports whether v replaces the running maximum best: strictly
// greater (so the first of equal values stays), or NaN.
func better(v, best float32) bool { return v > best || v != v }

// maxPool2x2 is the kernel-2, stride-2 case that VGG uses after every
// block: four loads and three comparisons per output. idx may be nil; vec
// lets the evaluation path use the AVX2 row kernel.
func maxPool2x2(src []float32, w, ho, wo int, dst []float32, idx []int32, vec bool) {
	if idx == nil {
		maxPool2x2Values(src, w, ho, wo, dst, vec)
		return
	}
	for oy := 0; oy < ho; oy++ {
		r0 := src[2*oy*w : 2*oy*w+2*wo]
		r1 := src[(2*oy+1)*w : (2*oy+1)*w+2*wo]
		d := dst[oy*wo : oy*wo+wo]
		id := idx[oy*wo : oy*wo+wo]
		base := int32(2 * oy * w)
		for ox := range d {
			j := 2 * ox
			best, at := r0[j], base+int32(j)
			if v := r0[j+1]; better(v, best) {
				best, at = v, base+int32(j+1)
			}
			if v := r1[j]; better(v, best) {
				best, at = v, base+int32(w+j)
			}
			if v := r1[j+1]; better(v, best) {
				best, at = v, base+int32(w+j+1)
			}
			d[ox], id[ox] = best, at
		}
	}
}

// maxPool2x2Values is maxPool2x2 without the argmax, for evaluation. The
// builtin max compiles to branch-free code (MINSS and bit operations on
// amd64): a compare-and-branch per value mispredicts about half the time
// on activations. Like better, it lets a NaN win; it differs only in that
// max(-0, +0) is +0 where the training path keeps the first of the two.
func maxPool2x2Values(src []float32, w, ho, wo int, dst []float32, vec bool) {
	for oy := 0; oy < ho; oy++ {
		r0 := src[2*oy*w : 2*oy*w+2*wo]
		r1 := src[(2*oy+1)*w : (2*oy+1)*w+2*wo]
		d := dst[oy*wo : oy*wo+wo]
		v := maxPool2x2RowVector(d, r0, r1, vec)
		for ox := v; ox < len(d); ox++ {
			j := 2 * ox
			d[ox] = max(max(r0[j], r0[j+1]), max(r1[j], r1[j+1]))
		}
	}
}

// maxPool2x2Slide is the kernel-2, stride-1 case without the argmax (the
// face detector's last pooling): the column maxima of a row pair are
// shared by the two windows that overlap them, so each output costs two
// max operations instead of three.
func maxPool2x2Slide(src []float32, w, ho, wo int, dst []float32) {
	for oy := 0; oy < ho; oy++ {
		r0 := src[oy*w : oy*w+wo+1]
		r1 := src[(oy+1)*w : (oy+1)*w+wo+1]
		d := dst[oy*wo : oy*wo+wo]
		prev := max(r0[0], r1[0])
		for ox := range d {
			next := max(r0[ox+1], r1[ox+1])
			d[ox] = max(prev, next)
			prev = next
		}
	}
}

// maxPool3x3s2Values is the kernel-3, stride-2 case without the argmax
// (the stem of dlib's face recognition ResNet): neighbouring windows share
// a column, whose maximum is carried over, so an output costs six max
// operations instead of eight and no window clipping.
func maxPool3x3s2Values(src []float32, w, ho, wo int, dst []float32) {
	for oy := 0; oy < ho; oy++ {
		r0 := src[2*oy*w : 2*oy*w+2*wo+1]
		r1 := src[(2*oy+1)*w : (2*oy+1)*w+2*wo+1]
		r2 := src[(2*oy+2)*w : (2*oy+2)*w+2*wo+1]
		d := dst[oy*wo : oy*wo+wo]
		prev := max(r0[0], r1[0], r2[0])
		for ox := range d {
			j := 2 * ox
			c1 := max(r0[j+1], r1[j+1], r2[j+1])
			c2 := max(r0[j+2], r1[j+2], r2[j+2])
			d[ox] = max(prev, c1, c2)
			prev = c2
		}
	}
}

// maxPoolPlaneValues is maxPoolPlane without the argmax, branch-free like
// maxPool2x2Values.
func maxPoolPlaneValues(g tensor.ConvGeom, src []float32, ho, wo int, dst []float32) {
	negInf := float32(math.Inf(-1))
	for oy := 0; oy < ho; oy++ {
		y0 := oy*g.Stride - g.Pad
		y1 := min(y0+g.K, g.H)
		y0 = max(y0, 0)
		d := dst[oy*wo : oy*wo+wo]
		for ox := range d {
			x0 := ox*g.Stride - g.Pad
			x1 := min(x0+g.K, g.W)
			x0 = max(x0, 0)
			best := negInf
			for y := y0; y < y1; y++ {
				for _, v := range src[y*g.W+x0 : y*g.W+x1] {
					best = max(best, v)
				}
			}
			d[ox] = best
		}
	}
}

// maxPoolPlane is the general case. A window is clipped to the input (the
// padding is -inf); its argmax starts at the first valid position, as in
// PyTorch, so that a window of -inf still points inside the plane. idx may
// be nil.
func maxPoolPlane(g tensor.ConvGeom, src []float32, ho, wo int, dst []float32, idx []int32) {
	negInf := float32(math.Inf(-1))
	for oy := 0; oy < ho; oy++ {
		y0 := oy*g.Stride - g.Pad
		y1 := min(y0+g.K, g.H)
		y0 = max(y0, 0)
		for ox := 0; ox < wo; ox++ {
			x0 := ox*g.Stride - g.Pad
			x1 := min(x0+g.K, g.W)
			x0 = max(x0, 0)
			best, at := negInf, int32(y0*g.W+x0)
			for y := y0; y < y1; y++ {
				row := src[y*g.W : y*g.W+x1]
				for x := x0; x < x1; x++ {
					if v := row[x]; better(v, best) {
						best, at = v, int32(y*g.W+x)
					}
				}
			}
			dst[oy*wo+ox] = best
			if idx != nil {
				idx[oy*wo+ox] = at
			}
		}
	}
}

// Backward implements Layer.
func (m *MaxPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := m.backwardReady(m, dy); err != nil {
		return nil, err
	}
	dx := m.inputGrad(&m.dx, dy, nil, m.inShape...)
	planes := m.inShape[0] * m.inShape[1]
	hw, ohw := m.inShape[2]*m.inShape[3], m.outShape[2]*m.outShape[3]
	tensor.ParallelMin(planes, max(1, 4096/max(ohw, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			dst := dx.Data[p*hw : (p+1)*hw]
			clear(dst)
			// Windows may overlap (kernel > stride), so add rather than
			// store.
			idx := m.argmax[p*ohw : (p+1)*ohw]
			for i, g := range dy.Data[p*ohw : (p+1)*ohw] {
				dst[idx[i]] += g
			}
		}
	})
	return dx, nil
}
