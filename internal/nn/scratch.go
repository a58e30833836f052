package nn

import (
	"sync"

	"starid/internal/tensor"
)

// Scratch: buffers a layer borrows for the length of one call. Layers of a
// network run one after another, so sharing these between all layers keeps
// a set sized for the largest layer instead of one per layer; concurrent
// calls (two models serving at once) each borrow their own.

// convScratch is one worker's buffers for a Conv2d call, kept between
// steps.
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
	// tiles is how many Winograd tiles col and tmp hold in a round of the
	// weight gradient.
	tiles int
}

// convScratchPool holds sets of per-worker scratch between calls: one set
// (~40 MB for VGG16 at 224) instead of one per layer (~300 MB).
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

// dwScratch holds the depthwise 3x3 kernels' padded planes between calls;
// a handful of buffers serve a whole network.
var dwScratch = sync.Pool{New: func() any { return new([]float32) }}

// getPlane borrows a buffer of n values; give it back with putPlane.
func getPlane(n int) *[]float32 {
	p := dwScratch.Get().(*[]float32)
	*p = grow(*p, n)
	return p
}

func putPlane(p *[]float32) { dwScratch.Put(p) }

// wgBuffers holds the Winograd path's transform-domain filter buffers (36
// x in x out values, 38 MB for a 512-channel layer) between calls. Unlike
// a sync.Pool it survives garbage collections, and a call takes the
// smallest buffer that fits, so a network keeps the few its largest layer
// needs (two during a backward pass) instead of reallocating them after
// every collection, which left several 38 MB planes of garbage behind and
// raised the peak RSS of a VGG16 step by ~140 MB.
var wgBuffers struct {
	sync.Mutex
	free []*[]float32
}

// getWgBuffer borrows a buffer of n values; give it back with putWgBuffer.
func getWgBuffer(n int) *[]float32 {
	wgBuffers.Lock()
	defer wgBuffers.Unlock()
	best := -1
	for i, p := range wgBuffers.free {
		if best < 0 || wgBetterFit(cap(*p), cap(*wgBuffers.free[best]), n) {
			best = i
		}
	}
	if best < 0 {
		p := make([]float32, n)
		return &p
	}
	p := wgBuffers.free[best]
	wgBuffers.free = append(wgBuffers.free[:best], wgBuffers.free[best+1:]...)
	*p = grow(*p, n)
	return p
}

// wgBetterFit says whether a buffer of capacity c suits n values better
// than one of capacity b: one that fits beats one that does not, the
// smaller of two that fit wins, and of two too small the larger (it grows
// into the new size, and the smaller stays for a smaller layer).
func wgBetterFit(c, b, n int) bool {
	if (c >= n) != (b >= n) {
		return c >= n
	}
	if c >= n {
		return c < b
	}
	return c > b
}

func putWgBuffer(p *[]float32) {
	wgBuffers.Lock()
	wgBuffers.free = append(wgBuffers.free, p)
	wgBuffers.Unlock()
}

// grow returns s with length n, reallocated only when too small; the
// contents are not kept.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
