package nn

import "starid/internal/tensor"

// Conv2d's part in the fused plan (fuse.go): with an in-place ReLU (or
// ReLU6) after it, Forward applies max(., 0) (or the clamp to [0, 6])
// where it writes its output. The im2col
// and direct paths do it per work item, right after the item's GEMM,
// bias copy or taps kernel wrote the rows, while they are still in cache;
// the Winograd path does it in one pass after the layer, which costs what
// the ReLU's own pass did. The Winograd output transform (wgOutputTiles and its AVX2
// kernel, which add the bias as they write each 4x4 tile) is where that
// pass would fuse next. Backward is unchanged: the ReLU's mask is the
// output the convolution wrote, and the ReLU applies it.
//
// With an in-place ReLU before it, the convolution's input is that ReLU's
// output, so Backward can also apply the ReLU's gradient mask (dL/dx is 0
// where x is) as it writes dL/dx, and the ReLU's own Backward pass is
// skipped: per image or group of images on the im2col paths, right after
// their GEMM wrote it; in one pass after the Winograd path, whose output
// transform could take the mask next.

// setFusedAct implements actFuser: ReLU and ReLU6 both fuse.
func (c *Conv2d) setFusedAct(a fusedAct) bool {
	c.act = a
	return true
}

func (c *Conv2d) fusesActBackward() bool { return false }

func (c *Conv2d) takeReLUMask(on bool) { c.reluMask = on }

// maskInputGrad applies the mask of the ReLU before the layer to dx,
// where x is the layer's input (that ReLU's output).
func (c *Conv2d) maskInputGrad(dx, x []float32) {
	if c.reluMask {
		reluBackward(dx, x)
	}
}

// maskAfter is maskInputGrad over a whole input gradient (nil when the
// layer computes none), split over the workers.
func (c *Conv2d) maskAfter(dx, x *tensor.Tensor) {
	if c.reluMask && dx != nil {
		reluBackwardAll(dx.Data, x.Data)
	}
}

// reluBand applies a fused activation to rows values of each of the m
// output planes of dst, ld values apart.
func (c *Conv2d) reluBand(dst []float32, m, rows, ld int) {
	c.act.applyPlanes(dst, m, rows, ld)
}

// reluAfter applies a fused activation to a whole output.
func (c *Conv2d) reluAfter(out []float32) { c.act.applyAll(out) }
