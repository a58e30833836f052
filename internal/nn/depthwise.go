package nn

import (
	"fmt"
	"math/rand/v2"

	"starid/internal/tensor"
)

// DepthwiseConv2d convolves each channel with its own square kernel (PyTorch's
// nn.Conv2d(C, C, K, stride, padding, groups=C)): output plane c depends on
// input plane c only. MobileNet-style nets such as face-api's detector pair it
// with a 1x1 Conv2d.
//
// It does not lower to GEMM: each output value is only K*K products, so an
// im2col matrix would cost more to build than the products themselves. The
// planes are convolved directly, split over the workers by channel, which is
// enough parallelism even at batch 1.
type DepthwiseConv2d struct {
	Base
	Channels, Kernel, Stride, Padding int

	Weight *Param // [Channels, 1, Kernel, Kernel]
	Bias   *Param // [Channels], nil without bias

	noInputGrad bool // Backward skips dL/dx (first layer of a network)

	x        *tensor.Tensor // input of the last training Forward
	outShape []int
	out, dx  *tensor.Tensor // own buffers, used without an arena
}

// NewDepthwiseConv2d returns a depthwise convolution with PyTorch's default
// initialization, U(-b, b) with b = 1/sqrt(fan_in) for weight and bias,
// where a grouped convolution's fan_in is (in/groups)*K*K = K*K. It panics on
// non-positive sizes or negative padding, which are mistakes in a model
// definition.
func NewDepthwiseConv2d(channels, kernel, stride, padding int, bias bool, rng *rand.Rand) *DepthwiseConv2d {
	if channels < 1 || kernel < 1 || stride < 1 || padding < 0 {
		panic(fmt.Sprintf("nn.NewDepthwiseConv2d: bad arguments channels=%d kernel=%d stride=%d padding=%d",
			channels, kernel, stride, padding))
	}
	d := &DepthwiseConv2d{Channels: channels, Kernel: kernel, Stride: stride, Padding: padding}
	d.Weight = NewParam("weight", channels, 1, kernel, kernel)
	KaimingUniform(d.Weight.Value, kernel*kernel, rng)
	if bias {
		d.Bias = NewParam("bias", channels)
		BiasUniform(d.Bias.Value, kernel*kernel, rng)
	}
	return d
}

// String prints the layer as PyTorch prints the grouped Conv2d it is.
func (d *DepthwiseConv2d) String() string {
	s := fmt.Sprintf("Conv2d(%d, %d, kernel_size=(%d, %d), stride=(%d, %d)", d.Channels, d.Channels, d.Kernel, d.Kernel, d.Stride, d.Stride)
	if d.Padding != 0 {
		s += fmt.Sprintf(", padding=(%d, %d)", d.Padding, d.Padding)
	}
	s += fmt.Sprintf(", groups=%d", d.Channels)
	if d.Bias == nil {
		s += ", bias=False"
	}
	return s + ")"
}

// Params implements Layer.
func (d *DepthwiseConv2d) Params() []*Param {
	if d.Bias == nil {
		return []*Param{d.Weight}
	}
	return []*Param{d.Weight, d.Bias}
}

// SetNeedInputGrad implements InputGradSkipper.
func (d *DepthwiseConv2d) SetNeedInputGrad(need bool) { d.noInputGrad = !need }

func (d *DepthwiseConv2d) geom(h, w int) tensor.ConvGeom {
	return tensor.ConvGeom{C: 1, H: h, W: w, K: d.Kernel, Stride: d.Stride, Pad: d.Padding}
}

// OutputShape implements Layer.
func (d *DepthwiseConv2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] != d.Channels || in[2]+2*d.Padding < d.Kernel || in[3]+2*d.Padding < d.Kernel {
		return nil, shapeErr(d, in, "[N, %d, H, W] with H and W at least %d", d.Channels, max(d.Kernel-2*d.Padding, 1))
	}
	g := d.geom(in[2], in[3])
	return []int{in[0], d.Channels, g.OutH(), g.OutW()}, nil
}

// dwGeom is the geometry of one plane with, per kernel column kj, the range
// [lo[kj], hi[kj]) of output columns whose input column ox*S-P+kj lies inside
// the plane; a row loop over that range needs no padding test.
type dwGeom struct {
	h, w, ho, wo, k, s, p int
	lo, hi                []int
}

func (d *DepthwiseConv2d) plane(h, w, ho, wo int) dwGeom {
	g := dwGeom{h: h, w: w, ho: ho, wo: wo, k: d.Kernel, s: d.Stride, p: d.Padding,
		lo: make([]int, d.Kernel), hi: make([]int, d.Kernel)}
	for kj := 0; kj < g.k; kj++ {
		off := kj - g.p // input column = ox*s + off
		lo := 0
		if off < 0 {
			lo = ceilDivInt(-off, g.s)
		}
		hi := 0
		if w-1-off >= 0 {
			hi = min((w-1-off)/g.s+1, wo)
		}
		g.lo[kj], g.hi[kj] = lo, max(hi, lo)
	}
	return g
}

// minPlaneWork is about how many multiply-adds a worker's share of planes
// should hold before splitting is worth a goroutine.
const minPlaneWork = 1 << 15

// Forward implements Layer.
func (d *DepthwiseConv2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := d.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := shape[2], shape[3]
	out := d.output(&d.out, x, shape...)
	d.outShape = append(d.outShape[:0], shape...)
	if d.Training {
		d.x = x
	} else {
		d.x = nil
	}
	g := d.plane(h, w, ho, wo)
	kk := d.Kernel * d.Kernel
	hw, ohw := h*w, ho*wo
	wt := d.Weight.Value.Data
	var bias []float32
	if d.Bias != nil {
		bias = d.Bias.Value.Data
	}
	tensor.ParallelMin(n*c, max(1, minPlaneWork/max(ohw*kk, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			b := float32(0)
			if bias != nil {
				b = bias[ch]
			}
			dwForwardPlane(&g, x.Data[p*hw:(p+1)*hw], wt[ch*kk:(ch+1)*kk], b, out.Data[p*ohw:(p+1)*ohw])
		}
	})
	return out, nil
}

// dwForwardPlane sets dst = src ⋆ wt + b for one plane, any kernel size.
func dwForwardPlane(g *dwGeom, src, wt []float32, b float32, dst []float32) {
	for oy := 0; oy < g.ho; oy++ {
		orow := dst[oy*g.wo : (oy+1)*g.wo]
		fill(orow, b)
		for ki := 0; ki < g.k; ki++ {
			iy := oy*g.s - g.p + ki
			if iy < 0 || iy >= g.h {
				continue
			}
			irow := src[iy*g.w : (iy+1)*g.w]
			for kj := 0; kj < g.k; kj++ {
				wv := wt[ki*g.k+kj]
				off := kj - g.p
				for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
					orow[ox] += wv * irow[ox*g.s+off]
				}
			}
		}
	}
}

// Backward implements Layer. Work is split by channel, each worker taking
// every image of its channels, so the weight and bias gradients of a channel
// are summed by one worker in a fixed order: no partial sums to combine and
// bit-identical results from run to run.
func (d *DepthwiseConv2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if d.x == nil {
		return nil, errNoForward(d)
	}
	if err := checkGrad(d, dy, d.outShape); err != nil {
		return nil, err
	}
	x := d.x
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := d.outShape[2], d.outShape[3]
	g := d.plane(h, w, ho, wo)
	kk := d.Kernel * d.Kernel
	hw, ohw := h*w, ho*wo
	needDW := !d.Weight.Frozen
	needDB := d.Bias != nil && !d.Bias.Frozen
	d.Weight.EnsureGrad()
	if d.Bias != nil {
		d.Bias.EnsureGrad()
	}
	var dx *tensor.Tensor
	if !d.noInputGrad {
		dx = d.inputGrad(&d.dx, dy, x, x.Shape...)
	}
	wt := d.Weight.Value.Data
	tensor.ParallelMin(c, max(1, minPlaneWork/max(n*ohw*kk, 1)), func(lo, hi int) {
		acc := make([]float64, kk)
		for ch := lo; ch < hi; ch++ {
			clear(acc)
			var db float64
			for img := 0; img < n; img++ {
				p := img*c + ch
				dyp := dy.Data[p*ohw : (p+1)*ohw]
				if needDB {
					for _, v := range dyp {
						db += float64(v)
					}
				}
				if needDW {
					dwWeightGradPlane(&g, x.Data[p*hw:(p+1)*hw], dyp, acc)
				}
				if dx != nil {
					dwInputGradPlane(&g, dyp, wt[ch*kk:(ch+1)*kk], dx.Data[p*hw:(p+1)*hw])
				}
			}
			if needDW {
				gw := d.Weight.Grad.Data[ch*kk : (ch+1)*kk]
				for i, v := range acc {
					gw[i] += float32(v)
				}
			}
			if needDB {
				d.Bias.Grad.Data[ch] += float32(db)
			}
		}
	})
	if dx == nil {
		return nil, nil
	}
	return dx, nil
}

// dwWeightGradPlane adds to acc[ki*K+kj] the sum over output pixels of
// dy * (the input value tap (ki, kj) saw), for one plane. Rows are summed
// in float32 and added to the float64 totals, which keeps a 200x200 plane's
// 40000 terms accurate.
func dwWeightGradPlane(g *dwGeom, src, dy []float32, acc []float64) {
	for oy := 0; oy < g.ho; oy++ {
		dyrow := dy[oy*g.wo : (oy+1)*g.wo]
		for ki := 0; ki < g.k; ki++ {
			iy := oy*g.s - g.p + ki
			if iy < 0 || iy >= g.h {
				continue
			}
			irow := src[iy*g.w : (iy+1)*g.w]
			for kj := 0; kj < g.k; kj++ {
				off := kj - g.p
				var s float32
				for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
					s += dyrow[ox] * irow[ox*g.s+off]
				}
				acc[ki*g.k+kj] += float64(s)
			}
		}
	}
}

// dwInputGradPlane sets dx to the input gradient of one plane: every
// output's gradient times each tap's weight, added where the tap read.
func dwInputGradPlane(g *dwGeom, dy, wt, dx []float32) {
	clear(dx)
	for oy := 0; oy < g.ho; oy++ {
		dyrow := dy[oy*g.wo : (oy+1)*g.wo]
		for ki := 0; ki < g.k; ki++ {
			iy := oy*g.s - g.p + ki
			if iy < 0 || iy >= g.h {
				continue
			}
			drow := dx[iy*g.w : (iy+1)*g.w]
			for kj := 0; kj < g.k; kj++ {
				wv := wt[ki*g.k+kj]
				off := kj - g.p
				for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
					drow[ox*g.s+off] += wv * dyrow[ox]
				}
			}
		}
	}
}
