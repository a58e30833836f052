package nn

import (
	"starid/internal/tensor"
)

// Conv2d's Winograd path (winograd.go has the algorithm): the drivers that
// cut the tiles of a batch into work items, and the layer's use of them.

// wgConvolve computes out = conv(x) + bias (bias may be nil) for the
// geometry g with the transformed filters u [36][cout][cin].
func wgConvolve(g wgGeom, x, u, bias, out []float32) {
	tb := wgBlock(g)
	total := g.tiles()
	ws := getScratch(wgElems*wgSpan(g.cin*tb), wgElems*wgSpan(g.cout*tb))
	defer putScratch(ws)
	runItems(ceilDivInt(total, tb), func(worker, item int, gemm gemmFunc) {
		var buf [wgMaxBlock]wgTile
		ts := buf[:min(tb, total-item*tb)]
		wgTileList(g, item*tb, ts)
		n := len(ts)
		v, m := ws[worker].col[:wgElems*wgSpan(g.cin*n)], ws[worker].tmp[:wgElems*wgSpan(g.cout*n)]
		wgInputTiles(g, x, ts, v)
		for e := 0; e < wgElems; e++ {
			gemm(false, false, g.cout, n, g.cin, 1, u[e*wgSpan(g.cout*g.cin):], g.cin,
				v[e*wgSpan(g.cin*n):], n, 0, m[e*wgSpan(g.cout*n):], n)
		}
		wgOutputTiles(g, m, ts, bias, out)
	})
}

// wgSumElem is the transform-domain element that holds each
// output-gradient tile's sum: row 1 of A is all ones, so element (1, 1)
// of A dy Aᵀ is 1ᵀ dy 1.
const wgSumElem = 1*wgA + 1

// wgWeightGrad adds dL/dW of x and dy (geometry g) to dw [cout][cin][3][3],
// with du (36 x cout x cin values) for the transform-domain sums, and
// dL/db to db unless it is nil. It runs in rounds of one item per worker:
// the workers transform their items' tiles side by side, then split the 36
// elements between them and add every item's product to du in item
// order. One shared du instead of a sum per worker saves 38 MB per worker
// on a 512-channel layer and the pass that added the sums, and the fixed
// order repeats bit for bit. The bias gradient is the tiles' sums
// (wgSumElem) added up per item, which spares a pass over dy on one core.
func wgWeightGrad(g wgGeom, x, dy, dw, du, db []float32) {
	tb := wgBlock(g)
	total := g.tiles()
	items := ceilDivInt(total, tb)
	workers := min(tensor.Workers(), items)
	ws := getScratch(wgElems*wgSpan(g.cin*tb), wgElems*wgSpan(g.cout*tb))
	defer putScratch(ws)
	var sums []float32 // per item of a round: its tiles' sums per channel
	if db != nil {
		sums = make([]float32, workers*g.cout)
	}
	span := wgSpan(g.cout * g.cin)
	for r0 := 0; r0 < items; r0 += workers {
		k := min(workers, items-r0)
		tensor.ParallelMin(k, 1, func(lo, hi int) {
			var buf [wgMaxBlock]wgTile
			for i := lo; i < hi; i++ {
				item := r0 + i
				ts := buf[:min(tb, total-item*tb)]
				wgTileList(g, item*tb, ts)
				n := len(ts)
				ws[i].tiles = n
				wgInputTiles(g, x, ts, ws[i].col[:wgElems*wgSpan(g.cin*n)])
				z := ws[i].tmp[:wgElems*wgSpan(g.cout*n)]
				wgGradTiles(g, dy, ts, z)
				if sums != nil {
					s := sums[i*g.cout : (i+1)*g.cout]
					clear(s)
					rowSums(s, z[wgSumElem*wgSpan(g.cout*n):], g.cout, n, n)
				}
			}
		})
		for i := 0; i < k && sums != nil; i++ {
			for o, v := range sums[i*g.cout : (i+1)*g.cout] {
				db[o] += v
			}
		}
		tensor.ParallelMin(wgElems, 1, func(lo, hi int) {
			for e := lo; e < hi; e++ {
				for i := 0; i < k; i++ {
					beta := float32(1)
					if r0 == 0 && i == 0 {
						beta = 0
					}
					n := ws[i].tiles
					tensor.Gemm(false, true, g.cout, g.cin, n, 1, ws[i].tmp[e*wgSpan(g.cout*n):], n,
						ws[i].col[e*wgSpan(g.cin*n):], n, beta, du[e*span:], g.cin)
				}
			}
		})
	}
	wgFilterGrads(du, g.cout, g.cin, dw)
}

// wgFilterGrads adds Gᵀ du G of each filter's 36 elements in du
// [36][cout][cin] to dw [cout][cin][3][3].
func wgFilterGrads(du []float32, cout, cin int, dw []float32) {
	plane, span := cout*cin, wgSpan(cout*cin)
	tensor.ParallelMin(plane, 1024, func(lo, hi int) {
		var u [wgElems]float64
		for at := wgFilterGradsVector(du, span, lo, hi, dw); at < hi; at++ {
			for e := range u {
				u[e] = float64(du[e*span+at])
			}
			filterGradTransform(&u, dw[at*9:at*9+9])
		}
	})
}

// useWinograd says whether a pass over n images of h x w takes the
// Winograd path (see WinogradMode).
func (c *Conv2d) useWinograd(n, h, w int) bool {
	if c.Kernel != 3 || c.Stride != 1 || c.Padding > 2 || WinogradMode == WinogradOff {
		return false
	}
	if WinogradMode == WinogradOn {
		return true
	}
	return wgFaster(n, c.In, c.Out, h, w, c.Training)
}

// forwardWinograd is Forward by wgConvolve.
func (c *Conv2d) forwardWinograd(x, out *tensor.Tensor) {
	g := newWgGeom(x.Shape[0], c.In, c.Out, x.Shape[2], x.Shape[3], c.Padding)
	u := getWgBuffer(wgElems * wgSpan(c.Out*c.In))
	defer putWgBuffer(u)
	wgFilters(c.Weight.Value.Data, c.Out, c.In, false, *u)
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	}
	wgConvolve(g, x.Data, *u, bias, out.Data)
}

// backwardWinograd is Backward's three gradients by Winograd: dL/dx as the
// convolution of dy with the flipped, transposed filters (padding 2-P
// gives back H x W), dL/dW by wgWeightGrad, dL/db as dy's row sums.
func (c *Conv2d) backwardWinograd(x, dy *tensor.Tensor) *tensor.Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	g := newWgGeom(n, c.In, c.Out, h, w, c.Padding)
	var db []float32
	if c.Bias != nil && !c.Bias.Frozen {
		db = c.Bias.Grad.Data
	}
	// One buffer holds the weight-gradient sums and then the flipped
	// filters, which are made only after those sums are spent.
	u := getWgBuffer(wgElems * wgSpan(c.Out*c.In))
	defer putWgBuffer(u)
	if !c.Weight.Frozen {
		wgWeightGrad(g, x.Data, dy.Data, c.Weight.Grad.Data, *u, db)
	} else if db != nil {
		ohw := g.ho * g.wo
		for i := 0; i < n; i++ {
			rowSums(db, dy.Data[i*c.Out*ohw:(i+1)*c.Out*ohw], c.Out, ohw, ohw)
		}
	}
	if c.noInputGrad {
		return nil
	}
	dx := c.inputGrad(&c.dx, dy, x, x.Shape...)
	wgFilters(c.Weight.Value.Data, c.Out, c.In, true, *u)
	gt := newWgGeom(n, c.Out, c.In, g.ho, g.wo, 2-c.Padding)
	wgConvolve(gt, dy.Data, *u, nil, dx.Data)
	return dx
}
