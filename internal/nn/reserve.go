package nn

import (
	"starid/internal/tensor"
)

// Reserving the shared scratch before a network's first pass. The scratch
// pools (scratch.go) grow on demand, and a VGG's layers ask for more as
// the channels widen: grown layer by layer, the Winograd filter buffer
// alone leaves 1 + 2 + 4 + 9 + 18 MB of outgrown buffers behind on its way
// to the 36 MB a 512-channel layer needs, and the column buffers as much
// again. With half a gigabyte of live weights the collector does not run
// before the step ends, so that garbage is peak RSS: ~70 MB of the 735 MB
// an inference step of VGG16 at 64x64, batch 32 peaked at. Sizing every
// buffer for the largest layer before the first layer runs allocates each
// once.

// scratchNeed is what one pass of a network asks of the scratch pools:
// per worker col and tmp values (convScratch), worker 0's flip values,
// the other workers' weight-gradient sums, every worker's bias-gradient
// sums, and the Winograd filter buffer.
type scratchNeed struct {
	col, tmp, flip, dW, db, wg int
}

func (a *scratchNeed) merge(b scratchNeed) {
	a.col, a.tmp = max(a.col, b.col), max(a.tmp, b.tmp)
	a.flip, a.dW, a.db, a.wg = max(a.flip, b.flip), max(a.dW, b.dW), max(a.db, b.db), max(a.wg, b.wg)
}

// scratchNeeds walks the leaf layers of l on input shape in and returns
// the most any convolution asks of the pools in Forward and, when
// backward, in Backward.
func scratchNeeds(l Layer, in []int, backward bool) (scratchNeed, error) {
	var need scratchNeed
	err := walkLeaves(l, in, func(l Layer, in, out []int) {
		if c, ok := l.(*Conv2d); ok {
			need.merge(c.scratchNeed(in, out, backward))
		}
	})
	return need, err
}

// scratchNeed mirrors the sizes Forward and Backward pass to getScratch
// and getWgBuffer for input shape in (TestReserveCoversAPass holds the two
// together). The direct algorithm (useTaps) keeps its own buffers.
func (c *Conv2d) scratchNeed(in, out []int, backward bool) scratchNeed {
	n, h, w := in[0], in[2], in[3]
	var need scratchNeed
	if c.useWinograd(n, h, w) {
		g := newWgGeom(n, c.In, c.Out, h, w, c.Padding)
		need.wg = wgElems * wgSpan(c.Out*c.In)
		geoms := []wgGeom{g}
		if backward && !c.noInputGrad {
			geoms = append(geoms, newWgGeom(n, c.Out, c.In, g.ho, g.wo, 2-c.Padding))
		}
		for _, g := range geoms {
			tb := wgBlock(g)
			need.merge(scratchNeed{col: wgElems * wgSpan(g.cin*tb), tmp: wgElems * wgSpan(g.cout*tb)})
		}
		return need
	}
	if c.useTaps(n, out[3]) && !backward {
		return need
	}
	g := c.geom(h, w)
	p := c.forwardPlan(g, n)
	need.col, need.tmp = p.colLen, p.tmpLen
	if !backward {
		return need
	}
	gt := tensor.ConvGeom{C: c.Out, H: g.OutH(), W: g.OutW(), K: c.Kernel, Stride: 1, Pad: c.Kernel - 1 - c.Padding}
	needDX := !c.noInputGrad
	bp := c.backwardPlan(g, gt, n, needDX, c.Stride == 1)
	need.merge(scratchNeed{col: bp.colLen, tmp: bp.tmpLen})
	if !c.Weight.Frozen && tensor.Workers() > 1 {
		need.dW = c.Weight.Value.Numel()
	}
	if c.Bias != nil && !c.Bias.Frozen {
		need.db = c.Out
	}
	if needDX && c.Stride == 1 {
		need.flip = c.In * c.Out * c.Kernel * c.Kernel
	}
	return need
}

// reserve sizes one set of per-worker scratch and one Winograd filter
// buffer for need, so that the passes that follow take them as they are.
func (need scratchNeed) reserve() {
	if need.col > 0 || need.tmp > 0 || need.flip > 0 || need.dW > 0 || need.db > 0 {
		ws := getScratch(need.col, need.tmp)
		ws[0].flip = grow(ws[0].flip, need.flip)
		for i := range ws {
			if i > 0 {
				ws[i].dW = grow(ws[i].dW, need.dW)
			}
			ws[i].db = grow(ws[i].db, need.db)
		}
		putScratch(ws)
	}
	if need.wg > 0 {
		putWgBuffer(getWgBuffer(need.wg))
	}
}
