package nn

import (
	"fmt"
	"math/rand/v2"

	"starid/internal/cpu"
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
	// Same pads as TensorFlow's 'SAME' instead of by Padding: per side
	// of n inputs, max((ceil(n/S)-1)*S + K - n, 0) zeros, the odd one at
	// the bottom or right, so the output is ceil(n/S) long. TF-trained
	// nets (face-api's) need it for stride 2 on even maps; as a field of
	// the layer it costs no separate padding pass over the activation.
	Same bool

	Weight *Param // [Channels, 1, Kernel, Kernel]
	Bias   *Param // [Channels], nil without bias

	noInputGrad bool     // Backward skips dL/dx (first layer of a network)
	act         fusedAct // Forward applies the in-place activation after it (fuse.go)

	inputMemo
	out, dx *tensor.Tensor // own buffers, used without an arena
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
	switch {
	case d.Same:
		s += ", padding='same'"
	case d.Padding != 0:
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
	return weightAndBias(d.Weight, d.Bias)
}

// SetNeedInputGrad implements InputGradSkipper.
func (d *DepthwiseConv2d) SetNeedInputGrad(need bool) { d.noInputGrad = !need }

// pads is the zero padding before and after a side of n inputs.
func (d *DepthwiseConv2d) pads(n int) (before, after int) {
	if !d.Same {
		return d.Padding, d.Padding
	}
	total := max((ceilDivInt(n, d.Stride)-1)*d.Stride+d.Kernel-n, 0)
	return total / 2, total - total/2
}

// outSize is the output length of a side of n inputs, 0 when the padded
// side is shorter than the kernel.
func (d *DepthwiseConv2d) outSize(n int) int {
	b, a := d.pads(n)
	if n+b+a < d.Kernel {
		return 0
	}
	return (n+b+a-d.Kernel)/d.Stride + 1
}

// OutputShape implements Layer.
func (d *DepthwiseConv2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] != d.Channels || in[2] < 1 || in[3] < 1 || d.outSize(in[2]) < 1 || d.outSize(in[3]) < 1 {
		least := max(d.Kernel-2*d.Padding, 1)
		if d.Same {
			least = 1
		}
		return nil, shapeErr(d, in, "[N, %d, H, W] with H and W at least %d", d.Channels, least)
	}
	return []int{in[0], d.Channels, d.outSize(in[2]), d.outSize(in[3])}, nil
}

// dwGeom is the geometry of one plane, padded by pt rows at the top and pl
// columns at the left, with, per kernel column kj, the range [lo[kj],
// hi[kj]) of output columns whose input column ox*S-pl+kj lies inside the
// plane; a row loop over that range needs no padding test.
type dwGeom struct {
	h, w, ho, wo, k, s int
	pt, pl             int
	lo, hi             []int
}

func (d *DepthwiseConv2d) plane(h, w, ho, wo int) dwGeom {
	pt, _ := d.pads(h)
	pl, _ := d.pads(w)
	g := dwGeom{h: h, w: w, ho: ho, wo: wo, k: d.Kernel, s: d.Stride, pt: pt, pl: pl,
		lo: make([]int, d.Kernel), hi: make([]int, d.Kernel)}
	for kj := 0; kj < g.k; kj++ {
		off := kj - g.pl // input column = ox*s + off
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
	d.remember(d.Training, x, shape)
	g := d.plane(h, w, ho, wo)
	kk := d.Kernel * d.Kernel
	hw, ohw := h*w, ho*wo
	wt := d.Weight.Value.Data
	var bias []float32
	if d.Bias != nil {
		bias = d.Bias.Value.Data
	}
	fast := d.fast3()
	vec := cpu.HasAVX2FMA()
	top, bottom := d.pads(h)
	left, right := d.pads(w)
	hp, wp := h+top+bottom, w+left+right
	tensor.ParallelMin(n*c, max(1, minPlaneWork/max(ohw*kk, 1)), func(lo, hi int) {
		var scratch *[]float32
		if fast && hp*wp > hw {
			scratch = getPlane(hp * wp)
			defer putPlane(scratch)
		}
		for p := lo; p < hi; p++ {
			ch := p % c
			b := float32(0)
			if bias != nil {
				b = bias[ch]
			}
			src, dst := x.Data[p*hw:(p+1)*hw], out.Data[p*ohw:(p+1)*ohw]
			switch {
			case !fast:
				dwForwardPlane(&g, src, wt[ch*kk:(ch+1)*kk], b, dst)
			case scratch != nil:
				padPlane(*scratch, src, h, w, left, right, top, bottom, 0)
				src = *scratch
				fallthrough
			default:
				dw3Plane(src, wp, d.Stride, (*[9]float32)(wt[ch*9:]), b, dst, ho, wo, vec)
			}
			d.act.apply(dst) // while the plane is in cache
		}
	})
	return out, nil
}

// setFusedAct implements actFuser: ReLU and ReLU6 both fuse, applied to
// each output plane right after it is written.
func (d *DepthwiseConv2d) setFusedAct(a fusedAct) bool {
	d.act = a
	return true
}

func (d *DepthwiseConv2d) fusesActBackward() bool { return false }

// fast3 reports whether the specialised 3x3 kernels apply to Forward.
func (d *DepthwiseConv2d) fast3() bool {
	return d.Kernel == 3 && (d.Stride == 1 || d.Stride == 2)
}

// fast3Backward reports whether they apply to Backward, whose input
// gradient is a convolution of dy padded by 2-P on every side: padding
// above 2 would need it to crop rather than pad, and Same's uneven
// padding to pad unevenly. No net trains either, and the general kernels
// cover them.
func (d *DepthwiseConv2d) fast3Backward() bool {
	return d.fast3() && !d.Same && d.Padding <= 2
}

// dwForwardPlane sets dst = src ⋆ wt + b for one plane, any kernel size.
func dwForwardPlane(g *dwGeom, src, wt []float32, b float32, dst []float32) {
	fill(dst[:g.ho*g.wo], b)
	g.eachRowPair(func(oy, ki, iy int) {
		orow, irow := dst[oy*g.wo:(oy+1)*g.wo], src[iy*g.w:(iy+1)*g.w]
		for kj, wv := range wt[ki*g.k : (ki+1)*g.k] {
			off := kj - g.pl
			for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
				orow[ox] += wv * irow[ox*g.s+off]
			}
		}
	})
}

// eachRowPair calls fn for every output row oy and kernel row ki, in that
// order, whose input row iy = oy*S - P + ki lies inside the plane: the
// row loops that the general (any kernel size) plane kernels share.
func (g *dwGeom) eachRowPair(fn func(oy, ki, iy int)) {
	for oy := 0; oy < g.ho; oy++ {
		for ki := 0; ki < g.k; ki++ {
			if iy := oy*g.s - g.pt + ki; iy >= 0 && iy < g.h {
				fn(oy, ki, iy)
			}
		}
	}
}

// Backward implements Layer. Work is split by channel, each worker taking
// every image of its channels, so the weight and bias gradients of a channel
// are summed by one worker in a fixed order: no partial sums to combine and
// bit-identical results from run to run.
func (d *DepthwiseConv2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := d.backwardReady(d, dy); err != nil {
		return nil, err
	}
	x := d.x
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := d.outShape[2], d.outShape[3]
	d.Weight.EnsureGrad()
	if d.Bias != nil {
		d.Bias.EnsureGrad()
	}
	b := dwBackward{d: d, x: x, dy: dy, g: d.plane(h, w, ho, wo),
		needDW: !d.Weight.Frozen, needDB: d.Bias != nil && !d.Bias.Frozen,
		fast: d.fast3Backward(), vec: cpu.HasAVX2FMA(), q: 2 - d.Padding}
	if !d.noInputGrad {
		b.dx = d.inputGrad(&d.dx, dy, x, x.Shape...)
	}
	kk := d.Kernel * d.Kernel
	hp, wp, hq, wq := h+2*d.Padding, w+2*d.Padding, h+2, w+2
	tensor.ParallelMin(c, max(1, minPlaneWork/max(n*ho*wo*kk, 1)), func(lo, hi int) {
		acc := make([]float64, kk)
		var xs, ds *[]float32
		if b.fast && b.needDW && d.Padding > 0 {
			xs = getPlane(hp * wp)
			defer putPlane(xs)
		}
		if b.fast && b.dx != nil {
			ds = getPlane(hq * wq)
			defer putPlane(ds)
		}
		for ch := lo; ch < hi; ch++ {
			b.channel(ch, acc, xs, ds)
		}
	})
	return b.dx, nil // nil without an input gradient
}

// dwBackward is what one Backward call's workers share.
type dwBackward struct {
	d              *DepthwiseConv2d
	x, dy, dx      *tensor.Tensor // dx nil without an input gradient
	g              dwGeom
	needDW, needDB bool
	fast, vec      bool // the 3x3 kernels apply; they may use AVX2
	// For the fast path, dL/dx is a stride-1 3x3 convolution of dy, padded
	// by q = 2-P (and, at stride 2, dilated by zeros) with the kernel
	// rotated by 180 degrees; the padded dy needs (H+2) x (W+2) values so
	// that the convolution's output is exactly H x W.
	q int
}

// channel adds channel ch's weight and bias gradients over every image and
// writes its input gradient. acc (K*K values) is the worker's float64
// accumulator; xs and ds are its padded-plane scratch for the fast path
// (nil where not needed).
func (b *dwBackward) channel(ch int, acc []float64, xs, ds *[]float32) {
	d, g := b.d, &b.g
	n, c, h, w := b.x.Shape[0], b.x.Shape[1], b.x.Shape[2], b.x.Shape[3]
	kk, hw, ohw := d.Kernel*d.Kernel, h*w, g.ho*g.wo
	wt := d.Weight.Value.Data
	clear(acc)
	var db float64
	var rot [9]float32
	if b.fast {
		for i, v := range wt[ch*9 : ch*9+9] {
			rot[8-i] = v
		}
	}
	for img := 0; img < n; img++ {
		p := img*c + ch
		xp, dyp := b.x.Data[p*hw:(p+1)*hw], b.dy.Data[p*ohw:(p+1)*ohw]
		if b.needDB {
			for _, v := range dyp {
				db += float64(v)
			}
		}
		var dxp []float32
		if b.dx != nil {
			dxp = b.dx.Data[p*hw : (p+1)*hw]
		}
		if !b.fast {
			if b.needDW {
				dwWeightGradPlane(g, xp, dyp, acc)
			}
			if dxp != nil {
				dwInputGradPlane(g, dyp, wt[ch*kk:(ch+1)*kk], dxp)
			}
			continue
		}
		if b.needDW {
			if xs != nil {
				padPlane(*xs, xp, h, w, d.Padding, d.Padding, d.Padding, d.Padding, 0)
				xp = *xs
			}
			dw3GradPlane(xp, w+2*d.Padding, d.Stride, dyp, g.ho, g.wo, (*[9]float64)(acc))
		}
		if dxp != nil {
			q := b.q
			if d.Stride == 1 {
				padPlane(*ds, dyp, g.ho, g.wo, q, q, q, q, 0)
			} else {
				dilatePlane(*ds, dyp, g.ho, g.wo, q, q, h+2, w+2)
			}
			dw3Plane(*ds, w+2, 1, &rot, 0, dxp, h, w, b.vec)
		}
	}
	if b.needDW {
		gw := d.Weight.Grad.Data[ch*kk : (ch+1)*kk]
		for i, v := range acc {
			gw[i] += float32(v)
		}
	}
	if b.needDB {
		d.Bias.Grad.Data[ch] += float32(db)
	}
}

// dwWeightGradPlane adds to acc[ki*K+kj] the sum over output pixels of
// dy * (the input value tap (ki, kj) saw), for one plane. Rows are summed
// in float32 and added to the float64 totals, which keeps a 200x200 plane's
// 40000 terms accurate.
func dwWeightGradPlane(g *dwGeom, src, dy []float32, acc []float64) {
	g.eachRowPair(func(oy, ki, iy int) {
		dyrow, irow := dy[oy*g.wo:(oy+1)*g.wo], src[iy*g.w:(iy+1)*g.w]
		for kj := 0; kj < g.k; kj++ {
			off := kj - g.pl
			var s float32
			for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
				s += dyrow[ox] * irow[ox*g.s+off]
			}
			acc[ki*g.k+kj] += float64(s)
		}
	})
}

// dwInputGradPlane sets dx to the input gradient of one plane: every
// output's gradient times each tap's weight, added where the tap read.
func dwInputGradPlane(g *dwGeom, dy, wt, dx []float32) {
	clear(dx)
	g.eachRowPair(func(oy, ki, iy int) {
		dyrow, drow := dy[oy*g.wo:(oy+1)*g.wo], dx[iy*g.w:(iy+1)*g.w]
		for kj, wv := range wt[ki*g.k : (ki+1)*g.k] {
			off := kj - g.pl
			for ox := g.lo[kj]; ox < g.hi[kj]; ox++ {
				drow[ox*g.s+off] += wv * dyrow[ox]
			}
		}
	})
}

// The 3x3 kernels below are what face-api's nets run (every depthwise layer
// is 3x3, stride 1 or 2). They work on a plane whose zero padding has been
// made explicit in a scratch copy, so each output row is one loop over
// three input rows with no padding tests; slices are cut to the exact
// length the loop reads, which lets the compiler drop the bounds checks.

// padPlane writes the h x w plane src into dst, which is (top+h+bottom)
// rows of (left+w+right) values, with the border set to v.
func padPlane(dst, src []float32, h, w, left, right, top, bottom int, v float32) {
	ow := left + w + right
	fill(dst[:top*ow], v)
	for y := 0; y < h; y++ {
		row := dst[(top+y)*ow : (top+y+1)*ow]
		fill(row[:left], v)
		copy(row[left:left+w], src[y*w:(y+1)*w])
		fill(row[left+w:], v)
	}
	fill(dst[(top+h)*ow:(top+h+bottom)*ow], v)
}

// dilatePlane writes the h x w plane src into dst (hp rows of wp values)
// with a zero between neighbours and zeros around, the first value at
// (top, left): the input of the stride-1 convolution whose output is a
// stride-2 convolution's input gradient.
func dilatePlane(dst, src []float32, h, w, top, left, hp, wp int) {
	dst = dst[:hp*wp]
	clear(dst)
	for y := 0; y < h; y++ {
		row := dst[(top+2*y)*wp+left:]
		row = row[:2*w-1]
		for x, v := range src[y*w : (y+1)*w] {
			row[2*x] = v
		}
	}
}

// dw3Plane is Forward for one plane with a 3x3 kernel at stride 1 or 2:
// xp is the padded input (wp values a row), dst the ho x wo output; vec
// lets the rows use the AVX2 kernels.
func dw3Plane(xp []float32, wp, stride int, wt *[9]float32, b float32, dst []float32, ho, wo int, vec bool) {
	for oy := 0; oy < ho; oy++ {
		r := xp[oy*stride*wp:]
		d := dst[oy*wo : (oy+1)*wo]
		if stride == 1 {
			dw3s1Row(d, r, r[wp:], r[2*wp:], wt, b, vec)
		} else {
			dw3s2Row(d, r, r[wp:], r[2*wp:], wt, b, vec)
		}
	}
}

// dw3s1Row sets d[i] = b + sum over ki, kj of w[ki*3+kj] * r_ki[i+kj],
// with the AVX2 kernel doing what it can when vec is set.
func dw3s1Row(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) {
	if v := dw3s1RowVector(d, r0, r1, r2, w, b, vec); v > 0 {
		d, r0, r1, r2 = d[v:], r0[v:], r1[v:], r2[v:]
	}
	n := len(d)
	r0, r1, r2 = r0[:n+2], r1[:n+2], r2[:n+2]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for i := range d {
		s0 := w0*r0[i] + w1*r0[i+1] + w2*r0[i+2]
		s1 := w3*r1[i] + w4*r1[i+1] + w5*r1[i+2]
		s2 := w6*r2[i] + w7*r2[i+1] + w8*r2[i+2]
		d[i] = b + s0 + s1 + s2
	}
}

// dw3s2Row is dw3s1Row at stride 2: the taps of output i are r_ki[2i+kj].
func dw3s2Row(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) {
	if v := dw3s2RowVector(d, r0, r1, r2, w, b, vec); v > 0 {
		d, r0, r1, r2 = d[v:], r0[2*v:], r1[2*v:], r2[2*v:]
	}
	n := len(d)
	r0, r1, r2 = r0[:2*n+1], r1[:2*n+1], r2[:2*n+1]
	w0, w1, w2, w3, w4, w5, w6, w7, w8 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]
	for i := range d {
		j := 2 * i
		s0 := w0*r0[j] + w1*r0[j+1] + w2*r0[j+2]
		s1 := w3*r1[j] + w4*r1[j+1] + w5*r1[j+2]
		s2 := w6*r2[j] + w7*r2[j+1] + w8*r2[j+2]
		d[i] = b + s0 + s1 + s2
	}
}

// dw3GradPlane adds to acc the weight gradient of one plane: acc[ki*3+kj]
// gets the sum over outputs of dy times the padded input tap (ki, kj)
// read. Each row's nine sums are kept in float32 and added to the float64
// totals.
func dw3GradPlane(xp []float32, wp, stride int, dy []float32, ho, wo int, acc *[9]float64) {
	var s [9]float32
	for oy := 0; oy < ho; oy++ {
		r := xp[oy*stride*wp:]
		g := dy[oy*wo : (oy+1)*wo]
		dw3GradRow(g, r, r[wp:], r[2*wp:], stride, &s)
		for k, v := range s {
			acc[k] += float64(v)
		}
	}
}

// dw3GradRow sets s[ki*3+kj] = sum over i of g[i] * r_ki[stride*i+kj]. One
// function serves both strides: the weight gradient is training work, off
// the inference path the stride-specialised forward rows are written for.
func dw3GradRow(g, r0, r1, r2 []float32, stride int, s *[9]float32) {
	n := stride*(len(g)-1) + 3
	r0, r1, r2 = r0[:n], r1[:n], r2[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7, s8 float32
	for i, v := range g {
		j := stride * i
		s0 += v * r0[j]
		s1 += v * r0[j+1]
		s2 += v * r0[j+2]
		s3 += v * r1[j]
		s4 += v * r1[j+1]
		s5 += v * r1[j+2]
		s6 += v * r2[j]
		s7 += v * r2[j+1]
		s8 += v * r2[j+2]
	}
	*s = [9]float32{s0, s1, s2, s3, s4, s5, s6, s7, s8}
}
