package nn

import (
	"sync"

	"starid/internal/tensor"
)

// Conv2d's schedule: how one call's work is cut into items for the
// workers, how big each worker's scratch must be, and which goroutines run
// the items. The layer (conv2d.go) only says what an item computes.

// convColTarget is about how many output pixels (GEMM columns) one work
// item covers. On 2 AVX2 cores (BenchmarkConv2d with CONV_COL_TARGET),
// 512 to 4096 were within noise of each other for the big maps, where the
// GEMM runs at OpenBLAS's single-thread peak either way; 1024 keeps a
// 64-channel band's column matrix (2.4 MB) in the shared L3 and groups
// 16 of the 8x8 or 4x4 maps into one GEMM, whose tiny per-image products
// would otherwise stream the 9 MB weight matrix once per image.
var convColTarget = 1024

// convPlan is how a batch is cut into work items: groups of `group` whole
// images when they are small, otherwise bands of `band` output rows of one
// image.
type convPlan struct {
	n, group, band, items int
	ho, wo                int
	// split: the images run one after another, each as one GEMM whose
	// output channels are divided among the workers (Forward only).
	split bool
	// inline: one GEMM on the calling goroutine (Forward only).
	inline bool
	// bandX is the input rows per band of Backward's flipped
	// input-gradient GEMM (stride 1, one image per item).
	bandX int
	// colLen and tmpLen are the values each worker's col and tmp hold.
	colLen, tmpLen int
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

// forwardPlan is plan with Forward's choices between items, a split by
// output channels and one inline GEMM, and the scratch that takes.
func (c *Conv2d) forwardPlan(g tensor.ConvGeom, n int) convPlan {
	ho, wo := g.OutH(), g.OutW()
	p := c.plan(n, ho, wo)
	rows, ohw := g.Rows(), ho*wo
	p.colLen = rows * p.band * wo
	if p.group > 1 {
		p.colLen, p.tmpLen = rows*p.group*ohw, c.Out*p.group*ohw
	}
	if w := tensor.Workers(); n < w && w > 1 && c.Out > ohw && c.Out >= 2*convSplitRows {
		// Fewer images than workers on a map with fewer pixels than
		// output channels (the late layers of a net at batch 1): bands
		// of rows would each pack the whole weight matrix, the larger
		// operand, into the GEMM's buffers; splitting the channels packs
		// each weight once and shares the small column matrix.
		p.split = true
		p.colLen = rows * ohw
	}
	if n == 1 && c.Out*rows*ohw < convInlineMACs && c.Out*rows < convInlineWeights {
		// Too little work to hand to another goroutine: one GEMM on the
		// caller's. The face detector's first layer calls this once per
		// pair of output rows from its own workers, where cutting each
		// call in two again only added goroutine hand-offs.
		p.inline, p.split = true, false
		p.band, p.items = ho, 1
		p.colLen = rows * ohw
	}
	if g.Pointwise() && (p.group == 1 || p.split) {
		p.colLen = 0
	}
	return p
}

// backwardPlan is plan with the scratch Backward needs: the column
// matrices of the weight gradient and, when needDX, of the stride-1
// input-gradient convolution gt (flipped), in bands of bandX input rows.
func (c *Conv2d) backwardPlan(g, gt tensor.ConvGeom, n int, needDX, flipped bool) convPlan {
	ho, wo, h, w := g.OutH(), g.OutW(), g.H, g.W
	p := c.plan(n, ho, wo)
	rows, hw, ohw := g.Rows(), h*w, ho*wo
	p.colLen = rows * p.band * wo
	if p.group > 1 {
		p.colLen, p.tmpLen = rows*p.group*ohw, c.Out*p.group*ohw
		if needDX && flipped {
			p.colLen = max(p.colLen, gt.Rows()*p.group*hw)
			p.tmpLen = max(p.tmpLen, c.In*p.group*hw)
		}
	} else if needDX && flipped {
		p.bandX = min(max(convColTarget/w, 1), h)
		p.colLen = max(p.colLen, gt.Rows()*p.bandX*w)
	}
	return p
}

func ceilDivInt(a, b int) int { return (a + b - 1) / b }

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int)

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

// wgFaster is the measured rule for WinogradAuto: whether Winograd beats
// the im2col and direct paths on n images of h x w (padding 1, so also
// the output size) with cin and cout channels, in a training pass
// (forward and backward) or an inference forward. BenchmarkWinograd on 2
// AMD EPYC cores at batch 8 and 32 (docs/BENCHMARKS.md, "Winograd
// convolution", "Session 6 perf" and "Winograd, session 7"), in CPU time:
// 1.05-1.8x faster forward and forward plus backward from 64 channels on
// the 224x224 model's maps at batch 8 (session 6), 1.5-2.7x on the 64x64
// model's maps of 8x8 to 64x64 at batch 32 (session 7), and 1.3-2.1x on
// 512 channels at 14x14, whose 4x4 tiles compute 16x16 (31% wasted,
// session 7, batch 8 and 32); not for the 3-channel first layer,
// whose products are too thin for 36 GEMMs; on 4x4 maps (one tile per
// image) only in training, where forward plus backward were 1.03-1.25x
// faster while the forward alone is even (the filter transforms outweigh
// 32 tiles' products); no other map under 8x8 (7x7 computes 8x8, with
// the same filter transforms for a quarter of the tiles, unmeasured). One
// image stays on the direct and im2col paths, which the face networks
// tuned.
func wgFaster(n, cin, cout, h, w int, training bool) bool {
	if n < 2 || cin < 64 || cout < 64 {
		return false
	}
	covered := ceilDivInt(h, wgM) * ceilDivInt(w, wgM) * wgM * wgM
	if h*w < 64 {
		return training && covered == h*w
	}
	return covered*100 <= h*w*131
}
