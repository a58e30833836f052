package nn

import "starid/internal/tensor"

// The direct ("taps") algorithm of Conv2d's evaluation forward pass. A
// GEMM lowering first writes a column matrix (In*K*K values per output
// pixel), then the GEMM packs it again, reloads its output for the bias,
// and for one small image packs every weight for a few columns. Here each
// output value is the bias plus, for each window offset t (a "tap": input
// channel, kernel row, kernel column), the input at that offset times the
// tap's weight, accumulated in registers by an AVX2 kernel, four output
// channels by 24 columns at a time, with no column matrix. The results
// differ from the GEMM's only in rounding (another summation order).
//
// Stride 1 reads every tap as a contiguous run of the input (zero-padded
// first when the layer pads); stride 2 reads its four phase planes (even
// or odd rows and columns), where the runs are contiguous again. Output
// rows are computed "wide", at the input's row pitch, so that a whole map
// is one long run; the few columns that straddle two rows are dropped
// when the result is copied out. Training keeps the GEMM (its Backward
// recomputes the same column matrices).

// convTapsMax is the most window values (In*K*K) the direct algorithm
// takes at stride 1: past it a GEMM, which reuses each loaded value
// across more output channels than four, catches up (BenchmarkConv2dTaps:
// even with 64 input channels a 1x1 is no faster, nor are the face
// recognizer's 3x3 SAME convolutions inside the net).
const convTapsMax = 32

// convTapsMaxStride2 is convTapsMax for stride 2, up to the face
// recognizer's 7x7 RGB stem (147 values). For a 3x3 window splitting the
// phases costs about what it saves.
const convTapsMaxStride2 = 160

// tapsOff turns the direct algorithm off, for benchmarks that set it
// against the GEMM lowering without lowering the GEMM's own kernels too
// (cpu.SetLevel would).
var tapsOff bool

// useTaps reports whether Forward takes the direct algorithm for n
// images with output rows of wo. Batches of several images, in training
// or evaluation, keep the GEMM, which then multiplies wide enough to run
// at full speed.
func (c *Conv2d) useTaps(n, wo int) bool {
	if tapsOff || !tapsSIMD() || c.Training || n >= tensor.Workers() || c.Out%4 != 0 || wo < 8 {
		return false
	}
	taps := c.In * c.Kernel * c.Kernel
	switch c.Stride {
	case 1:
		return taps <= convTapsMax
	case 2:
		return c.Padding == 0 && taps <= convTapsMaxStride2 && c.Kernel >= 5
	}
	return false
}

// forwardTaps is Forward's direct algorithm on x [N, In, H, W] into out
// [N, Out, Ho, Wo].
func (c *Conv2d) forwardTaps(x, out *tensor.Tensor) {
	n := x.Shape[0]
	ho, wo := out.Shape[2], out.Shape[3]
	taps, ohw := c.In*c.Kernel*c.Kernel, ho*wo
	src, cs, pitch := c.tapsInput(x)
	offs := c.tapOff[:taps]
	bias := c.tapB
	if c.Bias != nil {
		bias = c.Bias.Value.Data
	} else {
		c.tapB = grow(c.tapB, c.Out)
		clear(c.tapB)
		bias = c.tapB
	}
	wt := c.Weight.Value.Data
	// One image's output is one run of span values at the input's pitch
	// (wide), or exactly the output when the pitch is its width.
	span := (ho-1)*pitch + wo
	wide := pitch != wo
	dstPitch := ohw
	if wide {
		dstPitch = ho * pitch
		c.tapOut = grow(c.tapOut, c.Out*dstPitch)
	}
	groups := c.Out / 4
	chunk := min(span, convColTarget/4) // columns per item
	chunks := max(span/chunk, 1)        // the last takes the remainder
	inline := c.Out*taps*ohw < convInlineMACs
	for img := range n {
		in := src[img*c.In*cs:]
		dst := out.Data[img*c.Out*ohw:]
		if wide {
			dst = c.tapOut
		}
		item := func(i int) {
			// Consecutive items take every channel group of one chunk of
			// columns, so the chunk's input (taps x chunk values) is read
			// from cache by all of them; group by group, each group
			// streamed the whole input from memory again (SSD's 32->64
			// 1x1 at 256x256: 17-25 GFLOP per CPU-second, now 49-60).
			g, j := i%groups, i/groups
			x0, x1 := j*chunk, (j+1)*chunk
			if j == chunks-1 {
				x1 = span
			}
			convTapsRows(dst[g*4*dstPitch+x0:], dstPitch, x1-x0, in[x0:], offs,
				wt[g*4*taps:(g+1)*4*taps], bias[g*4:g*4+4])
			// The fused activation while the item's 4 x chunk values are
			// in cache; a pass over the whole output afterwards cost about
			// a third of the layer at 32->64 channels on 256x256.
			c.act.applyPlanes(dst[g*4*dstPitch+x0:], 4, x1-x0, dstPitch)
		}
		if inline {
			for i := range groups * chunks {
				item(i)
			}
		} else {
			tensor.ForEach(groups*chunks, func(_, i int) { item(i) })
		}
		if wide {
			final := out.Data[img*c.Out*ohw : (img+1)*c.Out*ohw]
			tensor.ParallelMin(c.Out, max(1, 16384/ohw), func(lo, hi int) {
				for o := lo; o < hi; o++ {
					for y := range ho {
						copy(final[(o*ho+y)*wo:(o*ho+y+1)*wo], dst[o*dstPitch+y*pitch:])
					}
				}
			})
		}
	}
}

// tapsInput lays x out as the kernel reads it and sets c.tapOff to each
// tap's offset in one image: src holds per image In channels of cs values,
// rows pitch apart (the input itself, or its zero-padded or phase-split
// copy in c.tapIn).
func (c *Conv2d) tapsInput(x *tensor.Tensor) (src []float32, cs, pitch int) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	k, p, taps := c.Kernel, c.Padding, c.In*c.Kernel*c.Kernel
	hw := h * w
	if cap(c.tapOff) < taps {
		c.tapOff = make([]int, taps)
	}
	offs := c.tapOff[:taps]
	src, cs, pitch = x.Data, hw, w
	switch {
	case c.Stride == 2:
		ph, pw := (h+1)/2, (w+1)/2
		cs, pitch = 4*ph*pw, pw
		c.tapIn = grow(c.tapIn, n*c.In*cs)
		src = c.tapIn
		tensor.ParallelMin(n*c.In, max(1, 16384/hw), func(lo, hi int) {
			for q := lo; q < hi; q++ {
				phases(src[q*cs:(q+1)*cs], x.Data[q*hw:(q+1)*hw], h, w)
			}
		})
		for ci := range c.In {
			for ky := range k {
				for kx := range k {
					offs[(ci*k+ky)*k+kx] = ci*cs + ((ky%2)*2+kx%2)*ph*pw + (ky/2)*pw + kx/2
				}
			}
		}
	default:
		if p > 0 {
			hp, wp := h+2*p, w+2*p
			cs, pitch = hp*wp, wp
			c.tapIn = grow(c.tapIn, n*c.In*cs)
			src = c.tapIn
			tensor.ParallelMin(n*c.In, max(1, 16384/hw), func(lo, hi int) {
				for q := lo; q < hi; q++ {
					padPlaneInto(src[q*cs:(q+1)*cs], x.Data[q*hw:(q+1)*hw], h, w, p)
				}
			})
		}
		for ci := range c.In {
			for ky := range k {
				for kx := range k {
					offs[(ci*k+ky)*k+kx] = ci*cs + ky*pitch + kx
				}
			}
		}
	}
	return src, cs, pitch
}

// phases writes the four phase planes of an h x w plane to dst: rows of
// parity a and columns of parity b go to plane 2a+b, each ceil(h/2) x
// ceil(w/2); values past an odd side are left as they are (never read).
func phases(dst, plane []float32, h, w int) {
	ph, pw := (h+1)/2, (w+1)/2
	for y := range h {
		row := plane[y*w : (y+1)*w]
		even := dst[((y%2)*2)*ph*pw+(y/2)*pw:]
		odd := dst[((y%2)*2+1)*ph*pw+(y/2)*pw:]
		for xx := 0; xx+1 < w; xx += 2 {
			even[xx/2], odd[xx/2] = row[xx], row[xx+1]
		}
		if w%2 == 1 {
			even[w/2] = row[w-1]
		}
	}
}

// padPlaneInto writes an h x w plane to dst with p zeros on every side.
func padPlaneInto(dst, plane []float32, h, w, p int) {
	wp := w + 2*p
	clear(dst[:p*wp])
	for y := range h {
		r := dst[(p+y)*wp : (p+y+1)*wp]
		clear(r[:p])
		copy(r[p:p+w], plane[y*w:(y+1)*w])
		clear(r[p+w:])
	}
	clear(dst[(p+h)*wp:])
}

// convTapsRows computes cols outputs of four channels, ldd apart in d:
// d[o*ldd+x] = b[o] + sum over t of w[o*taps+t]*src[offs[t]+x]. The
// kernel takes the longest multiple of 8, then the last eight columns
// again (recomputing the overlap with the same arithmetic, so rewriting
// the same values); Go does rows shorter than 8.
func convTapsRows(d []float32, ldd, cols int, src []float32, offs []int, w, b []float32) {
	taps := len(offs)
	_ = src[offs[taps-1]+cols-1] // the furthest value read
	_ = d[3*ldd+cols-1]
	_ = w[4*taps-1]
	_ = b[3]
	done := convTapsVector(d, ldd, cols, src, offs, w, b)
	if done < cols && cols >= 8 {
		convTapsVector(d[cols-8:], ldd, 8, src[cols-8:], offs, w, b)
		return
	}
	for o := range 4 {
		row := d[o*ldd : o*ldd+cols]
		wo := w[o*taps : (o+1)*taps]
		for x := done; x < cols; x++ {
			acc := b[o]
			for t, off := range offs {
				acc += wo[t] * src[off+x]
			}
			row[x] = acc
		}
	}
}
