package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"starid/internal/tensor"
)

// Conv2d is a 2-D convolution over NCHW images with a square kernel, stride
// and zero padding (PyTorch's nn.Conv2d with those arguments).
//
// It lowers to GEMM: for a band of output pixels, im2col lays the input
// windows out as a [In*K*K x pixels] matrix and the [Out x In*K*K] weights
// multiply it. Work is split into items (a band of rows of one image, or a
// group of whole images when images are small) that the workers take one
// at a time, each with a single-threaded GEMM and its own scratch. Bands
// keep the column matrix small enough to stay in cache between im2col
// writing it and the GEMM reading it; groups give the late, small layers
// GEMMs wide enough to run at full speed. conv_schedule.go decides the
// items and who runs them, scratch.go lends the buffers, and conv_taps.go
// holds the direct algorithm that evaluation on one image takes instead;
// 3x3 stride-1 layers large enough to pay take Winograd's algorithm
// (winograd.go) where useWinograd says so.
type Conv2d struct {
	Base
	In, Out, Kernel, Stride, Padding int

	Weight *Param // [Out, In, Kernel, Kernel]
	Bias   *Param // [Out], nil without bias

	noInputGrad bool     // Backward skips dL/dx (first layer of a network)
	act         fusedAct // Forward applies the in-place activation after it (conv_relu.go)
	reluMask    bool     // Backward applies the mask of the in-place ReLU before it
	passes      passTimes

	x        *tensor.Tensor // input of the last training Forward
	outShape []int
	out, dx  *tensor.Tensor // own buffers, used without an arena

	// The direct algorithm's buffers (conv_taps.go): zero bias, window
	// offsets, padded or phase-split input and wide output.
	tapB, tapIn, tapOut []float32
	tapOff              []int
}

// NewConv2d returns a convolution with PyTorch's default initialization:
// kaiming_uniform(a=sqrt(5)) for the weight, which is U(-b, b) with
// b = 1/sqrt(fan_in), fan_in = in*kernel*kernel, and the same bound for the
// bias. It panics on non-positive sizes or negative padding, which are
// mistakes in a model definition.
func NewConv2d(in, out, kernel, stride, padding int, bias bool, rng *rand.Rand) *Conv2d {
	if in < 1 || out < 1 || kernel < 1 || stride < 1 || padding < 0 {
		panic(fmt.Sprintf("nn.NewConv2d: bad arguments in=%d out=%d kernel=%d stride=%d padding=%d",
			in, out, kernel, stride, padding))
	}
	c := &Conv2d{In: in, Out: out, Kernel: kernel, Stride: stride, Padding: padding}
	c.Weight = NewParam("weight", out, in, kernel, kernel)
	bound := 1 / math.Sqrt(float64(in*kernel*kernel))
	for i := range c.Weight.Value.Data {
		c.Weight.Value.Data[i] = float32((2*rng.Float64() - 1) * bound)
	}
	if bias {
		c.Bias = NewParam("bias", out)
		for i := range c.Bias.Value.Data {
			c.Bias.Value.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return c
}

func (c *Conv2d) String() string {
	s := fmt.Sprintf("Conv2d(%d, %d, kernel_size=(%d, %d), stride=(%d, %d)", c.In, c.Out, c.Kernel, c.Kernel, c.Stride, c.Stride)
	if c.Padding != 0 {
		s += fmt.Sprintf(", padding=(%d, %d)", c.Padding, c.Padding)
	}
	if c.Bias == nil {
		s += ", bias=False"
	}
	return s + ")"
}

// Params implements Layer.
func (c *Conv2d) Params() []*Param {
	if c.Bias == nil {
		return []*Param{c.Weight}
	}
	return []*Param{c.Weight, c.Bias}
}

// SetNeedInputGrad implements InputGradSkipper: without an input gradient
// Backward skips the GEMM and col2im that produce it and returns nil.
func (c *Conv2d) SetNeedInputGrad(need bool) { c.noInputGrad = !need }

func (c *Conv2d) geom(h, w int) tensor.ConvGeom {
	return tensor.ConvGeom{C: c.In, H: h, W: w, K: c.Kernel, Stride: c.Stride, Pad: c.Padding}
}

// OutputShape implements Layer.
func (c *Conv2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] != c.In || in[2]+2*c.Padding < c.Kernel || in[3]+2*c.Padding < c.Kernel {
		return nil, shapeErr(c, in, "[N, %d, H, W] with H and W at least %d", c.In, max(c.Kernel-2*c.Padding, 1))
	}
	g := c.geom(in[2], in[3])
	return []int{in[0], c.Out, g.OutH(), g.OutW()}, nil
}

// Forward implements Layer.
func (c *Conv2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := c.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	out := c.output(&c.out, x, shape...)
	c.outShape = append(c.outShape[:0], shape...)
	if c.Training {
		c.x = x
	} else {
		c.x = nil
	}
	switch {
	case c.useWinograd(x.Shape[0], x.Shape[2], x.Shape[3]):
		c.forwardWinograd(x, out)
		c.reluAfter(out.Data)
	case c.useTaps(x.Shape[0], shape[3]):
		c.forwardTaps(x, out) // applies a fused activation per work item
	default:
		c.forwardGEMM(x, out) // applies a fused activation in its write-back
	}
	return out, nil
}

// forwardGEMM is Forward's GEMM lowering on x [N, In, H, W] into out
// [N, Out, Ho, Wo], scheduled by forwardPlan.
func (c *Conv2d) forwardGEMM(x, out *tensor.Tensor) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	g := c.geom(h, w)
	ho, wo := g.OutH(), g.OutW()
	p := c.forwardPlan(g, n)
	ws := getScratch(p.colLen, p.tmpLen)
	defer putScratch(ws)
	if p.split {
		c.forwardSplit(g, x, out, ws[0].col)
		return
	}
	rows, hw, ohw := g.Rows(), h*w, ho*wo
	wt := c.Weight.Value.Data
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	bands := ceilDivInt(ho, p.band)
	run := runItems
	if p.inline {
		run = runInline
	}
	run(p.items, func(worker, item int, gemm gemmFunc) {
		s := &ws[worker]
		if p.group > 1 {
			c.forwardGroup(g, x, out, s, item*p.group, min(p.group, n-item*p.group), gemm)
			return
		}
		img, r0 := item/bands, (item%bands)*p.band
		r1 := min(r0+p.band, ho)
		cols := (r1 - r0) * wo
		src, ldb := s.col, cols
		if g.Pointwise() {
			src, ldb = x.Data[img*c.In*hw+r0*wo:], ohw
		} else {
			tensor.Im2col(g, x.Data[img*c.In*hw:], r0, r1, s.col, cols)
		}
		dst := out.Data[img*c.Out*ohw+r0*wo:]
		beta := float32(0)
		if bias != nil {
			// Start from the bias and let the GEMM add onto it: one pass
			// over the output instead of a GEMM pass plus a bias pass.
			for o := 0; o < c.Out; o++ {
				fill(dst[o*ohw:o*ohw+cols], bias[o])
			}
			beta = 1
		}
		gemm(false, false, c.Out, cols, rows, 1, wt, rows, src, ldb, beta, dst, ohw)
		c.reluBand(dst, c.Out, cols, ohw)
	})
}

// forwardGroup computes the imgs images from n0 on as one GEMM over their
// column matrices side by side, then scatters the [Out x imgs*HoWo] result
// to NCHW, adding the bias.
func (c *Conv2d) forwardGroup(g tensor.ConvGeom, x, out *tensor.Tensor, s *convScratch, n0, imgs int, gemm gemmFunc) {
	rows, hw, ohw := g.Rows(), g.H*g.W, g.OutH()*g.OutW()
	cols := imgs * ohw
	for i := 0; i < imgs; i++ {
		tensor.Im2col(g, x.Data[(n0+i)*c.In*hw:], 0, g.OutH(), s.col[i*ohw:], cols)
	}
	gemm(false, false, c.Out, cols, rows, 1, c.Weight.Value.Data, rows, s.col, cols, 0, s.tmp, cols)
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	for i := 0; i < imgs; i++ {
		dst := out.Data[(n0+i)*c.Out*ohw:]
		for o := 0; o < c.Out; o++ {
			addBias(dst[o*ohw:(o+1)*ohw], s.tmp[o*cols+i*ohw:], bias, o)
		}
		c.reluBand(dst, c.Out, ohw, ohw)
	}
}

// forwardSplit runs the images one after another, each as one GEMM whose
// output channels are divided among the workers; col holds one image's
// column matrix.
func (c *Conv2d) forwardSplit(g tensor.ConvGeom, x, out *tensor.Tensor, col []float32) {
	rows, hw, ho := g.Rows(), g.H*g.W, g.OutH()
	ohw := ho * g.OutW()
	wt := c.Weight.Value.Data
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	for img := 0; img < x.Shape[0]; img++ {
		src, ldb := col, ohw
		if g.Pointwise() {
			src = x.Data[img*c.In*hw:]
		} else {
			tensor.Im2col(g, x.Data[img*c.In*hw:], 0, ho, src, ohw)
		}
		dst := out.Data[img*c.Out*ohw:]
		tensor.ParallelMin(c.Out, convSplitRows, func(lo, hi int) {
			beta := float32(0)
			if bias != nil {
				for o := lo; o < hi; o++ {
					fill(dst[o*ohw:(o+1)*ohw], bias[o])
				}
				beta = 1
			}
			tensor.Gemm(false, false, hi-lo, ohw, rows, 1, wt[lo*rows:], rows, src, ldb, beta, dst[lo*ohw:], ohw)
			c.reluBand(dst[lo*ohw:], hi-lo, ohw, ohw)
		})
	}
}

// addBias sets dst = src[:len(dst)] + bias[o] (bias may be nil).
func addBias(dst, src, bias []float32, o int) {
	src = src[:len(dst)]
	if bias == nil {
		copy(dst, src)
		return
	}
	b := bias[o]
	for i, v := range src {
		dst[i] = v + b
	}
}

// fill sets every element of s to v. A few values are stored one by one
// and then copied onto the rest in doubling blocks: copy moves 32 bytes
// per instruction where a store loop moves 4, and the bias fill before a
// convolution's GEMM covers the whole output (2.7M values at the face
// detector's first layer), where the plain loop cost about as much as the
// GEMM itself.
func fill(s []float32, v float32) {
	n := min(len(s), 32)
	for i := range s[:n] {
		s[i] = v
	}
	for n < len(s) {
		n += copy(s[n:], s[:n])
	}
}

// Backward implements Layer. Per worker it recomputes the column matrix
// band by band (keeping it from Forward would cost 115 MB per image at
// 224x224) and accumulates dW = dy·colᵀ and db = row sums of dy into its
// own buffers, summed into the gradients at the end. For stride 1, dL/dx is
// itself a convolution of dy with the flipped, transposed weights, so it is
// computed as im2col plus GEMM over bands of input rows, which needs no
// col2im (scattered adds) and no synchronization between bands; other
// strides use GEMM plus col2im, one image per worker.
func (c *Conv2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if c.passes.on {
		return c.backwardTimed(dy) // conv_profile.go
	}
	return c.backward(dy)
}

func (c *Conv2d) backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if c.x == nil {
		return nil, errNoForward(c)
	}
	if err := checkGrad(c, dy, c.outShape); err != nil {
		return nil, err
	}
	x := c.x
	c.Weight.EnsureGrad()
	if c.Bias != nil {
		c.Bias.EnsureGrad()
	}
	if c.useWinograd(x.Shape[0], x.Shape[2], x.Shape[3]) {
		dx := c.backwardWinograd(x, dy) // nil without an input gradient
		c.maskAfter(dx, x)
		return dx, nil
	}
	g := c.geom(x.Shape[2], x.Shape[3])
	b := convBackward{c: c, x: x, dy: dy, g: g,
		// gt is the geometry of the input-gradient convolution for
		// stride 1: dy (Out planes of Ho x Wo) padded by K-1-P gives back
		// H x W.
		gt:      tensor.ConvGeom{C: c.Out, H: g.OutH(), W: g.OutW(), K: c.Kernel, Stride: 1, Pad: c.Kernel - 1 - c.Padding},
		flipped: c.Stride == 1,
		needDW:  !c.Weight.Frozen,
		needDB:  c.Bias != nil && !c.Bias.Frozen,
	}
	if !c.noInputGrad {
		b.dx = c.inputGrad(&c.dx, dy, x, x.Shape...)
	}
	b.p = c.backwardPlan(g, b.gt, x.Shape[0], b.dx != nil, b.flipped)
	ws := getScratch(b.p.colLen, b.p.tmpLen)
	defer putScratch(ws)
	if b.dx != nil && b.flipped {
		ws[0].flip = c.flipWeights(ws[0].flip)
		b.wflip = ws[0].flip
	}
	for i := range ws {
		ws[i].used = false
		if b.needDW && i > 0 {
			ws[i].dW = grow(ws[i].dW, len(c.Weight.Grad.Data))
		}
		if b.needDB {
			ws[i].db = grow(ws[i].db, c.Out)
		}
	}
	items := x.Shape[0]
	if b.p.group > 1 {
		items = b.p.items
	}
	runItemsFixed(items, func(worker, item int, gemm gemmFunc) {
		b.item(&ws[worker], worker, item, gemm)
	})
	b.fold(ws)
	return b.dx, nil // nil without an input gradient
}

// convBackward is what one Backward call's workers share.
type convBackward struct {
	c              *Conv2d
	x, dy, dx      *tensor.Tensor // dx nil without an input gradient
	g, gt          tensor.ConvGeom
	p              convPlan
	flipped        bool      // dx by the stride-1 convolution gt
	wflip          []float32 // its weights (flipWeights)
	needDW, needDB bool
}

// item is one work item: a group of images or one image. The first product
// of a step into a worker's own buffers overwrites them; worker 0 adds into
// Weight.Grad, as PyTorch does.
func (b *convBackward) item(s *convScratch, worker, item int, gemm gemmFunc) {
	var dW []float32
	if b.needDW {
		dW = b.c.Weight.Grad.Data
		if worker > 0 {
			dW = s.dW
		}
	}
	betaW := float32(1)
	if worker > 0 && !s.used {
		betaW = 0
	}
	if b.needDB && !s.used {
		clear(s.db)
	}
	s.used = true
	if b.p.group > 1 {
		b.group(s, item*b.p.group, gemm, dW, betaW)
		return
	}
	c, g := b.c, b.g
	hw, ohw := g.H*g.W, g.OutH()*g.OutW()
	xi := b.x.Data[item*c.In*hw : (item+1)*c.In*hw]
	dyi := b.dy.Data[item*c.Out*ohw : (item+1)*c.Out*ohw]
	if b.needDB {
		rowSums(s.db, dyi, c.Out, ohw, ohw)
	}
	if b.needDW {
		b.weightGradImage(s, gemm, xi, dyi, dW, betaW)
	}
	if b.dx != nil {
		dxi := b.dx.Data[item*c.In*hw : (item+1)*c.In*hw]
		b.inputGradImage(s, gemm, dyi, dxi)
		c.maskInputGrad(dxi, xi)
	}
}

// weightGradImage adds dy·colᵀ of one image to dW, band by band; betaW
// says whether the first band adds (1) or overwrites (0).
func (b *convBackward) weightGradImage(s *convScratch, gemm gemmFunc, xi, dyi, dW []float32, betaW float32) {
	c, g := b.c, b.g
	ho, wo := g.OutH(), g.OutW()
	rows := g.Rows()
	for r0 := 0; r0 < ho; r0 += b.p.band {
		r1 := min(r0+b.p.band, ho)
		cols := (r1 - r0) * wo
		src, ldb := s.col, cols
		if g.Pointwise() {
			src, ldb = xi[r0*wo:], ho*wo
		} else {
			tensor.Im2col(g, xi, r0, r1, s.col, cols)
		}
		gemm(false, true, c.Out, rows, cols, 1, dyi[r0*wo:], ho*wo, src, ldb, betaW, dW, rows)
		betaW = 1
	}
}

// inputGradImage writes one image's dL/dx: for stride 1 the flipped
// convolution of dy, in bands of input rows; otherwise Wᵀ·dy band by band,
// scattered back with col2im.
func (b *convBackward) inputGradImage(s *convScratch, gemm gemmFunc, dyi, dxi []float32) {
	c, g, gt := b.c, b.g, b.gt
	h, w, ho, wo := g.H, g.W, g.OutH(), g.OutW()
	if b.flipped {
		hw := h * w
		for r0 := 0; r0 < h; r0 += b.p.bandX {
			r1 := min(r0+b.p.bandX, h)
			cols := (r1 - r0) * w
			src, ldb := s.col, cols
			if gt.Pointwise() {
				src, ldb = dyi[r0*w:], hw
			} else {
				tensor.Im2col(gt, dyi, r0, r1, s.col, cols)
			}
			gemm(false, false, c.In, cols, gt.Rows(), 1, b.wflip, gt.Rows(), src, ldb, 0, dxi[r0*w:], hw)
		}
		return
	}
	rows := g.Rows()
	clear(dxi)
	for r0 := 0; r0 < ho; r0 += b.p.band {
		r1 := min(r0+b.p.band, ho)
		cols := (r1 - r0) * wo
		gemm(true, false, rows, cols, c.Out, 1, c.Weight.Value.Data, rows, dyi[r0*wo:], ho*wo, 0, s.col, cols)
		tensor.Col2im(g, s.col, cols, r0, r1, dxi)
	}
}

// group is item for the images from n0 on (p.group of them, fewer at the
// end): their dy gathered side by side into one [Out x imgs*HoWo] matrix
// gives one GEMM per gradient.
func (b *convBackward) group(s *convScratch, n0 int, gemm gemmFunc, dW []float32, betaW float32) {
	c, g := b.c, b.g
	imgs := min(b.p.group, b.x.Shape[0]-n0)
	hw, ohw := g.H*g.W, g.OutH()*g.OutW()
	cols := imgs * ohw
	dyg := s.tmp[:c.Out*cols]
	for i := 0; i < imgs; i++ {
		src := b.dy.Data[(n0+i)*c.Out*ohw:]
		for o := 0; o < c.Out; o++ {
			copy(dyg[o*cols+i*ohw:o*cols+(i+1)*ohw], src[o*ohw:(o+1)*ohw])
		}
	}
	if b.needDB {
		rowSums(s.db, dyg, c.Out, cols, cols)
	}
	if b.needDW {
		rows := g.Rows()
		for i := 0; i < imgs; i++ {
			tensor.Im2col(g, b.x.Data[(n0+i)*c.In*hw:], 0, g.OutH(), s.col[i*ohw:], cols)
		}
		gemm(false, true, c.Out, rows, cols, 1, dyg, cols, s.col, cols, betaW, dW, rows)
	}
	if b.dx != nil {
		b.inputGradGroup(s, gemm, n0, imgs, dyg)
		lo, hi := n0*c.In*hw, (n0+imgs)*c.In*hw
		c.maskInputGrad(b.dx.Data[lo:hi], b.x.Data[lo:hi])
	}
}

// inputGradGroup writes dL/dx of the images from n0 on, whose gathered dy
// is dyg, as inputGradImage does for one.
func (b *convBackward) inputGradGroup(s *convScratch, gemm gemmFunc, n0, imgs int, dyg []float32) {
	c, g, gt := b.c, b.g, b.gt
	hw, ohw := g.H*g.W, g.OutH()*g.OutW()
	cols := imgs * ohw
	if b.flipped {
		xc := imgs * hw
		for i := 0; i < imgs; i++ {
			tensor.Im2col(gt, b.dy.Data[(n0+i)*c.Out*ohw:], 0, g.H, s.col[i*hw:], xc)
		}
		res := s.tmp[:c.In*xc]
		gemm(false, false, c.In, xc, gt.Rows(), 1, b.wflip, gt.Rows(), s.col, xc, 0, res, xc)
		for i := 0; i < imgs; i++ {
			dst := b.dx.Data[(n0+i)*c.In*hw:]
			for ci := 0; ci < c.In; ci++ {
				copy(dst[ci*hw:(ci+1)*hw], res[ci*xc+i*hw:])
			}
		}
		return
	}
	rows := g.Rows()
	gemm(true, false, rows, cols, c.Out, 1, c.Weight.Value.Data, rows, dyg, cols, 0, s.col, cols)
	for i := 0; i < imgs; i++ {
		dst := b.dx.Data[(n0+i)*c.In*hw : (n0+i+1)*c.In*hw]
		clear(dst)
		tensor.Col2im(g, s.col[i*ohw:], cols, 0, g.OutH(), dst)
	}
}

// fold adds the other workers' partial sums into the weight gradient and
// every worker's bias sums into the bias gradient.
func (b *convBackward) fold(ws []convScratch) {
	for i := 1; i < len(ws); i++ {
		if ws[i].used && b.needDW {
			addInto(b.c.Weight.Grad.Data, ws[i].dW)
		}
	}
	if b.needDB {
		for i := range ws {
			if ws[i].used {
				addInto(b.c.Bias.Grad.Data, ws[i].db)
			}
		}
	}
}

// flipWeights builds, in buf (grown as needed), the weights of the
// stride-1 input-gradient convolution: [In x Out*K*K] with
// wflip[ci][(co*K+a)*K+b] = W[co][ci][K-1-a][K-1-b].
func (c *Conv2d) flipWeights(buf []float32) []float32 {
	k := c.Kernel
	kk := k * k
	wflip := grow(buf, c.In*c.Out*kk)
	wt := c.Weight.Value.Data
	// 2.4M values for a 512-channel layer: worth both cores.
	tensor.ParallelMin(c.In, max(1, 16384/(c.Out*kk)), func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			for co := 0; co < c.Out; co++ {
				src := wt[(co*c.In+ci)*kk : (co*c.In+ci+1)*kk]
				dst := wflip[ci*c.Out*kk+co*kk : ci*c.Out*kk+(co+1)*kk]
				for i := range dst {
					dst[i] = src[kk-1-i]
				}
			}
		}
	})
	return wflip
}

// rowSums adds the sum of each of the m rows (n values, ld apart) of a to s.
func rowSums(s, a []float32, m, n, ld int) {
	for i := 0; i < m; i++ {
		// float64: a 224x224 plane has 50176 terms.
		var sum float64
		for _, v := range a[i*ld : i*ld+n] {
			sum += float64(v)
		}
		s[i] += float32(sum)
	}
}

// addInto sets dst += src, split over the workers when it is large.
func addInto(dst, src []float32) {
	src = src[:len(dst)]
	tensor.ParallelMin(len(dst), 1<<16, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i, v := range s {
			d[i] += v
		}
	})
}
