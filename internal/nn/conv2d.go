package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

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
// GEMMs wide enough to run at full speed.
type Conv2d struct {
	Base
	In, Out, Kernel, Stride, Padding int

	Weight *Param // [Out, In, Kernel, Kernel]
	Bias   *Param // [Out], nil without bias

	noInputGrad bool // Backward skips dL/dx (first layer of a network)

	x        *tensor.Tensor // input of the last training Forward
	outShape []int
	out, dx  *tensor.Tensor // own buffers, used without an arena

	// The direct algorithm's buffers (conv_taps.go): zero bias, window
	// offsets, padded or phase-split input and wide output.
	tapB, tapIn, tapOut []float32
	tapOff              []int
}

// convScratch is one worker's buffers, kept between steps.
type convScratch struct {
	col []float32 // column matrix of one item
	tmp []float32 // GEMM result or gathered gradient of an image group
	dW  []float32 // this worker's share of dL/dW (worker 0 uses Weight.Grad)
	db  []float32
	// flip (worker 0's only) holds the weights of the stride-1
	// input-gradient convolution during one Backward; sharing it through
	// the pool keeps one copy for the network instead of one per layer.
	flip []float32
	// used says dW/db hold this step's partial sums; the first GEMM of a
	// step overwrites instead of adding, so the buffers need no clearing.
	used bool
}

// convColTarget is about how many output pixels (GEMM columns) one work
// item covers. On 2 AVX2 cores (BenchmarkConv2d with CONV_COL_TARGET),
// 512 to 4096 were within noise of each other for the big maps, where the
// GEMM runs at OpenBLAS's single-thread peak either way; 1024 keeps a
// 64-channel band's column matrix (2.4 MB) in the shared L3 and groups
// 16 of the 8x8 or 4x4 maps into one GEMM, whose tiny per-image products
// would otherwise stream the 9 MB weight matrix once per image.
var convColTarget = 1024

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

// convPlan is how a batch is cut into work items: groups of `group` whole
// images when they are small, otherwise bands of `band` output rows of one
// image.
type convPlan struct {
	n, group, band, items int
	ho, wo                int
	// split: the images run one after another, each as one GEMM whose
	// output channels are divided among the workers (Forward only).
	split bool
}

// convSplitRows is the fewest output channels a worker takes when a
// forward GEMM is split by channels: a multiple of the GEMM kernels'
// register block, and enough work to pay for the hand-off.
const convSplitRows = 16

// Below convInlineMACs multiply-adds (about 25 µs on one core), with
// fewer than convInlineWeights weights to stream, a forward pass on one
// image runs on the calling goroutine: waking another costs about as much
// as it would save. GemmParallel draws its line at the same work.
const (
	convInlineMACs    = 1 << 20
	convInlineWeights = 1 << 16
)

func (c *Conv2d) plan(n, ho, wo int) convPlan {
	p := convPlan{n: n, group: 1, band: ho, ho: ho, wo: wo}
	target := convColTarget
	if ho*wo*2 <= target && n > 1 {
		// Small images: several per GEMM. The item count is rounded up
		// to a multiple of the workers so that none idles at the end
		// (32 images of 14x14 in 7 groups would leave one worker a
		// quarter of the time alone).
		w := tensor.Workers()
		items := ceilDivInt(n, max(target/(ho*wo), 1))
		items = min(ceilDivInt(items, w)*w, n)
		p.group = ceilDivInt(n, items)
		p.items = ceilDivInt(n, p.group)
		return p
	}
	p.band = min(max(target/wo, 1), ho)
	if bands, w := ceilDivInt(ho, p.band), tensor.Workers(); n < w && bands < 4*w {
		// Few bands and too few images to keep every worker busy: cut
		// the image into a multiple of the workers in equal bands. A
		// 35x35 map otherwise splits 29+6 rows and one core does 83% of
		// the work (the face recognizer at batch 1).
		bands = ceilDivInt(bands, w) * w
		p.band = ceilDivInt(ho, bands)
	}
	p.items = n * ceilDivInt(ho, p.band)
	return p
}

func ceilDivInt(a, b int) int { return (a + b - 1) / b }

// convScratchPool holds sets of per-worker scratch between calls. Layers
// run one after another, so sharing the sets across all Conv2d layers
// keeps one set (sized for the largest layer, ~40 MB for VGG16 at 224)
// instead of one per layer (~300 MB); concurrent calls, e.g. two models
// serving at once, each take their own set.
var convScratchPool struct {
	sync.Mutex
	free [][]convScratch
}

// getScratch returns a set of per-worker scratch, one per worker, whose
// col holds colLen and tmp tmpLen values. Give it back with putScratch.
func getScratch(colLen, tmpLen int) []convScratch {
	w := tensor.Workers()
	var ws []convScratch
	convScratchPool.Lock()
	if n := len(convScratchPool.free); n > 0 {
		ws = convScratchPool.free[n-1]
		convScratchPool.free = convScratchPool.free[:n-1]
	}
	convScratchPool.Unlock()
	if len(ws) < w {
		ws = append(ws, make([]convScratch, w-len(ws))...)
	}
	for i := range ws[:w] {
		s := &ws[i]
		s.col = grow(s.col, colLen)
		s.tmp = grow(s.tmp, tmpLen)
	}
	return ws[:w]
}

func putScratch(ws []convScratch) {
	convScratchPool.Lock()
	convScratchPool.free = append(convScratchPool.free, ws)
	convScratchPool.Unlock()
}

// grow returns s with length n, reallocated only when too small; the
// contents are not kept.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// runItems executes the items on the workers. With fewer items than workers
// (batch-1 inference on small images) it runs them one after another and
// hands each GEMM all the cores instead.
func runItems(items int, fn func(worker, item int, gemm gemmFunc)) {
	if items < tensor.Workers() {
		for i := 0; i < items; i++ {
			fn(0, i, tensor.GemmParallel)
		}
		return
	}
	tensor.ForEach(items, func(worker, i int) { fn(worker, i, tensor.Gemm) })
}

// runInline executes the items one after another on the calling
// goroutine, each with a single-threaded GEMM.
func runInline(items int, fn func(worker, item int, gemm gemmFunc)) {
	for i := 0; i < items; i++ {
		fn(0, i, tensor.Gemm)
	}
}

// runItemsFixed is runItems with a fixed assignment: worker k takes the
// k-th contiguous range of items. Backward needs it because each worker
// sums its items' weight gradients before the sums are combined, and a
// float sum's rounding depends on which items it holds; with items taken
// first come, first served, two identical runs would differ in the last
// bits (and a resumed training run would not match an uninterrupted one).
// The items of one Backward cost the same, so balance does not suffer.
func runItemsFixed(items int, fn func(worker, item int, gemm gemmFunc)) {
	w := tensor.Workers()
	if items < w || w == 1 {
		runItems(items, fn)
		return
	}
	chunk := ceilDivInt(items, w)
	var wg sync.WaitGroup
	for k := 0; k*chunk < items; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for i := k * chunk; i < min((k+1)*chunk, items); i++ {
				fn(k, i, tensor.Gemm)
			}
		}(k)
	}
	wg.Wait()
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int)

// Forward implements Layer.
func (c *Conv2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := c.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	g := c.geom(h, w)
	ho, wo := shape[2], shape[3]
	out := c.output(&c.out, x, shape...)
	c.outShape = append(c.outShape[:0], shape...)
	if c.Training {
		c.x = x
	} else {
		c.x = nil
	}

	if c.useTaps(n, wo) {
		c.forwardTaps(x, out)
		return out, nil
	}

	p := c.plan(n, ho, wo)
	rows, hw, ohw := g.Rows(), h*w, ho*wo
	colLen, tmpLen := rows*p.band*wo, 0
	if p.group > 1 {
		colLen, tmpLen = rows*p.group*ohw, c.Out*p.group*ohw
	}
	if w := tensor.Workers(); n < w && w > 1 && c.Out > ohw && c.Out >= 2*convSplitRows {
		// Fewer images than workers on a map with fewer pixels than
		// output channels (the late layers of a net at batch 1): bands
		// of rows would each pack the whole weight matrix, the larger
		// operand, into the GEMM's buffers; splitting the channels packs
		// each weight once and shares the small column matrix.
		p.split = true
		colLen = rows * ohw
	}
	inline := false
	if n == 1 && c.Out*rows*ohw < convInlineMACs && c.Out*rows < convInlineWeights {
		// Too little work to hand to another goroutine: one GEMM on the
		// caller's. The face detector's first layer calls this once per
		// pair of output rows from its own workers, where cutting each
		// call in two again only added goroutine hand-offs.
		inline, p.split = true, false
		p.band, p.items = ho, 1
		colLen = rows * ohw
	}
	if g.Pointwise() && (p.group == 1 || p.split) {
		colLen = 0
	}
	ws := getScratch(colLen, tmpLen)
	defer putScratch(ws)
	wt := c.Weight.Value.Data
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	bands := ceilDivInt(ho, p.band)

	if p.split {
		for img := 0; img < n; img++ {
			src, ldb := ws[0].col, ohw
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
			})
		}
		return out, nil
	}

	run := runItems
	if inline {
		run = runInline
	}
	run(p.items, func(worker, item int, gemm gemmFunc) {
		s := &ws[worker]
		if p.group > 1 {
			n0 := item * p.group
			imgs := min(p.group, n-n0)
			cols := imgs * ohw
			for i := 0; i < imgs; i++ {
				tensor.Im2col(g, x.Data[(n0+i)*c.In*hw:], 0, ho, s.col[i*ohw:], cols)
			}
			gemm(false, false, c.Out, cols, rows, 1, wt, rows, s.col, cols, 0, s.tmp, cols)
			// Scatter the [Out x imgs*HoWo] result to NCHW, adding the bias.
			for i := 0; i < imgs; i++ {
				dst := out.Data[(n0+i)*c.Out*ohw:]
				for o := 0; o < c.Out; o++ {
					addBias(dst[o*ohw:(o+1)*ohw], s.tmp[o*cols+i*ohw:], bias, o)
				}
			}
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
	})
	return out, nil
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
	if c.x == nil {
		return nil, errNoForward(c)
	}
	if err := checkGrad(c, dy, c.outShape); err != nil {
		return nil, err
	}
	x := c.x
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	g := c.geom(h, w)
	ho, wo := c.outShape[2], c.outShape[3]
	rows, hw, ohw := g.Rows(), h*w, ho*wo
	needDW := !c.Weight.Frozen
	needDB := c.Bias != nil && !c.Bias.Frozen
	needDX := !c.noInputGrad
	c.Weight.EnsureGrad()
	if c.Bias != nil {
		c.Bias.EnsureGrad()
	}
	// gt is the geometry of the input-gradient convolution for stride 1:
	// dy (Out planes of Ho x Wo) padded by K-1-P gives back H x W.
	gt := tensor.ConvGeom{C: c.Out, H: ho, W: wo, K: c.Kernel, Stride: 1, Pad: c.Kernel - 1 - c.Padding}
	flipped := c.Stride == 1
	var dx *tensor.Tensor
	if needDX {
		dx = c.inputGrad(&c.dx, dy, x, x.Shape...)
	}

	p := c.plan(n, ho, wo)
	bandX := 0 // input rows per band of the flipped input-gradient GEMM
	colLen, tmpLen := rows*p.band*wo, 0
	if p.group > 1 {
		colLen, tmpLen = rows*p.group*ohw, c.Out*p.group*ohw
		if needDX && flipped {
			colLen = max(colLen, gt.Rows()*p.group*hw)
			tmpLen = max(tmpLen, c.In*p.group*hw)
		}
	} else if needDX && flipped {
		bandX = min(max(convColTarget/w, 1), h)
		colLen = max(colLen, gt.Rows()*bandX*w)
	}
	ws := getScratch(colLen, tmpLen)
	defer putScratch(ws)
	var wflip []float32
	if needDX && flipped {
		ws[0].flip = c.flipWeights(ws[0].flip)
		wflip = ws[0].flip
	}
	for i := range ws {
		ws[i].used = false
		if needDW && i > 0 {
			ws[i].dW = grow(ws[i].dW, len(c.Weight.Grad.Data))
		}
		if needDB {
			ws[i].db = grow(ws[i].db, c.Out)
		}
	}
	wt := c.Weight.Value.Data
	items := n
	if p.group > 1 {
		items = p.items
	}

	runItemsFixed(items, func(worker, item int, gemm gemmFunc) {
		s := &ws[worker]
		var dW []float32
		if needDW {
			dW = c.Weight.Grad.Data
			if worker > 0 {
				dW = s.dW
			}
		}
		// The first product of a step into a worker's own buffer
		// overwrites it; worker 0 adds into Weight.Grad, as PyTorch does.
		betaW := float32(1)
		if worker > 0 && !s.used {
			betaW = 0
		}
		if needDB && !s.used {
			clear(s.db)
		}
		s.used = true

		if p.group > 1 {
			n0 := item * p.group
			imgs := min(p.group, n-n0)
			cols := imgs * ohw
			// Gather dy of the group into [Out x imgs*HoWo].
			dyg := s.tmp[:c.Out*cols]
			for i := 0; i < imgs; i++ {
				src := dy.Data[(n0+i)*c.Out*ohw:]
				for o := 0; o < c.Out; o++ {
					copy(dyg[o*cols+i*ohw:o*cols+(i+1)*ohw], src[o*ohw:(o+1)*ohw])
				}
			}
			if needDB {
				rowSums(s.db, dyg, c.Out, cols, cols)
			}
			if needDW {
				for i := 0; i < imgs; i++ {
					tensor.Im2col(g, x.Data[(n0+i)*c.In*hw:], 0, ho, s.col[i*ohw:], cols)
				}
				gemm(false, true, c.Out, rows, cols, 1, dyg, cols, s.col, cols, betaW, dW, rows)
			}
			if !needDX {
				return
			}
			if flipped {
				xc := imgs * hw
				for i := 0; i < imgs; i++ {
					tensor.Im2col(gt, dy.Data[(n0+i)*c.Out*ohw:], 0, h, s.col[i*hw:], xc)
				}
				res := s.tmp[:c.In*xc]
				gemm(false, false, c.In, xc, gt.Rows(), 1, wflip, gt.Rows(), s.col, xc, 0, res, xc)
				for i := 0; i < imgs; i++ {
					dst := dx.Data[(n0+i)*c.In*hw:]
					for ci := 0; ci < c.In; ci++ {
						copy(dst[ci*hw:(ci+1)*hw], res[ci*xc+i*hw:])
					}
				}
				return
			}
			gemm(true, false, rows, cols, c.Out, 1, wt, rows, dyg, cols, 0, s.col, cols)
			for i := 0; i < imgs; i++ {
				dst := dx.Data[(n0+i)*c.In*hw : (n0+i+1)*c.In*hw]
				clear(dst)
				tensor.Col2im(g, s.col[i*ohw:], cols, 0, ho, dst)
			}
			return
		}

		img := item
		xi := x.Data[img*c.In*hw : (img+1)*c.In*hw]
		dyi := dy.Data[img*c.Out*ohw : (img+1)*c.Out*ohw]
		if needDB {
			rowSums(s.db, dyi, c.Out, ohw, ohw)
		}
		for r0 := 0; r0 < ho && needDW; r0 += p.band {
			r1 := min(r0+p.band, ho)
			cols := (r1 - r0) * wo
			src, ldb := s.col, cols
			if g.Pointwise() {
				src, ldb = xi[r0*wo:], ohw
			} else {
				tensor.Im2col(g, xi, r0, r1, s.col, cols)
			}
			gemm(false, true, c.Out, rows, cols, 1, dyi[r0*wo:], ohw, src, ldb, betaW, dW, rows)
			betaW = 1
		}
		if !needDX {
			return
		}
		dxi := dx.Data[img*c.In*hw : (img+1)*c.In*hw]
		if flipped {
			for r0 := 0; r0 < h; r0 += bandX {
				r1 := min(r0+bandX, h)
				cols := (r1 - r0) * w
				src, ldb := s.col, cols
				if gt.Pointwise() {
					src, ldb = dyi[r0*w:], hw
				} else {
					tensor.Im2col(gt, dyi, r0, r1, s.col, cols)
				}
				gemm(false, false, c.In, cols, gt.Rows(), 1, wflip, gt.Rows(), src, ldb, 0, dxi[r0*w:], hw)
			}
			return
		}
		clear(dxi)
		for r0 := 0; r0 < ho; r0 += p.band {
			r1 := min(r0+p.band, ho)
			cols := (r1 - r0) * wo
			gemm(true, false, rows, cols, c.Out, 1, wt, rows, dyi[r0*wo:], ohw, 0, s.col, cols)
			tensor.Col2im(g, s.col, cols, r0, r1, dxi)
		}
	})

	// Fold the other workers' partial sums into the gradients.
	for i := 1; i < len(ws); i++ {
		if ws[i].used && needDW {
			addInto(c.Weight.Grad.Data, ws[i].dW)
		}
	}
	if needDB {
		for i := range ws {
			if ws[i].used {
				addInto(c.Bias.Grad.Data, ws[i].db)
			}
		}
	}
	if !needDX {
		return nil, nil
	}
	return dx, nil
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
