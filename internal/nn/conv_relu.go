package nn

// Conv2d's part in the fused plan (fuse.go): with an in-place ReLU after
// it, Forward applies max(., 0) where it writes its output. The im2col
// paths do it per work item, right after the item's GEMM or bias copy
// wrote the rows, while they are still in cache; the Winograd and direct
// paths do it in one pass after the layer, which costs what the ReLU's
// own pass did. The Winograd output transform (wgOutputTiles and its AVX2
// kernel, which add the bias as they write each 4x4 tile) is where that
// pass would fuse next. Backward is unchanged: the ReLU's mask is the
// output the convolution wrote, and the ReLU applies it.

func (c *Conv2d) setFusedReLU(on bool) { c.fuseReLU = on }

func (c *Conv2d) fusesReLUBackward() bool { return false }

// reluBand applies a fused ReLU to rows values of each of the m output
// planes of dst, ld values apart.
func (c *Conv2d) reluBand(dst []float32, m, rows, ld int) {
	if !c.fuseReLU {
		return
	}
	for o := 0; o < m; o++ {
		reluForward(dst[o*ld:o*ld+rows], dst[o*ld:o*ld+rows])
	}
}

// reluAfter applies a fused ReLU to a whole output.
func (c *Conv2d) reluAfter(out []float32) {
	if c.fuseReLU {
		reluInPlace(out)
	}
}
