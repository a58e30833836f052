package nn

import "starid/internal/tensor"

// The direct ("taps") algorithm of Conv2d's forward pass, for unpadded
// convolutions of stride 1 or 2 whose kernel window holds few values (the
// face detector's first layer, 3 channels x 3x3, 1x1 convolutions of a
// few channels, the recognizer's 7x7 stride-2 RGB stem). Such a GEMM has an inner dimension of 27 or 16: it
// spends more time writing the column matrix, packing it and reloading
// the output than multiplying. Here each output row is the bias plus the
// input row at each of the In*K*K window offsets times that tap's weight,
// accumulated in registers by an AVX2 kernel, four output channels at a
// time, with no column matrix. The results differ from the GEMM's only in
// rounding (another summation order).

// convTapsMax is the most window values (In*K*K) the direct algorithm
// takes. Beyond that a GEMM reuses each loaded input value across more
// output channels than the kernel's four and wins (BenchmarkConv2dTaps).
const convTapsMax = 32

// useTaps reports whether Forward takes the direct algorithm for an
// output row width of wo.
func (c *Conv2d) useTaps(wo int) bool {
	if !tapsSIMD() || c.Padding != 0 || c.Out%4 != 0 || wo < 8 {
		return false
	}
	taps := c.In * c.Kernel * c.Kernel
	switch c.Stride {
	case 1:
		return taps <= convTapsMax
	case 2:
		// A stride-2 GEMM also pays a strided gather per column value;
		// up to the face recognizer's 7x7 RGB stem (147 window values)
		// the direct algorithm on phase planes wins, 1.7x there. For a
		// 3x3 window splitting the phases costs about what it saves
		// (BenchmarkConv2dTaps).
		return taps <= convTapsMaxStride2 && c.Kernel >= 5
	}
	return false
}

// convTapsMaxStride2 is convTapsMax for stride 2.
const convTapsMaxStride2 = 160

// forwardTaps is Forward's direct algorithm on x [N, In, H, W] into out
// [N, Out, Ho, Wo].
func (c *Conv2d) forwardTaps(x, out *tensor.Tensor) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	ho, wo := out.Shape[2], out.Shape[3]
	k, taps := c.Kernel, c.In*c.Kernel*c.Kernel
	hw, ohw := h*w, ho*wo
	// Weights regrouped as [Out/4][taps][4], the order the kernel reads
	// them in; a few hundred values, rebuilt each call so that a changed
	// weight is always seen.
	c.tapW = grow(c.tapW, c.Out*taps)
	wt := c.Weight.Value.Data
	for o := range c.Out {
		g, j := o/4, o%4
		for t := range taps {
			c.tapW[(g*taps+t)*4+j] = wt[o*taps+t]
		}
	}
	c.tapB = grow(c.tapB, c.Out)
	if c.Bias != nil {
		copy(c.tapB, c.Bias.Value.Data)
	} else {
		clear(c.tapB)
	}
	if cap(c.tapOff) < taps {
		c.tapOff = make([]int, taps)
	}
	offs := c.tapOff[:taps]
	src := x.Data
	if c.Stride == 2 {
		// Split each input plane into its four phases (even or odd row,
		// even or odd column), each ph x pw: output (y, x) reads tap
		// (ky, kx) at phase (ky%2, kx%2), position (y+ky/2, x+kx/2), so
		// an output row reads contiguous runs again.
		ph, pw := (h+1)/2, (w+1)/2
		c.tapIn = grow(c.tapIn, n*c.In*4*ph*pw)
		src = c.tapIn
		tensor.ParallelMin(n*c.In, max(1, 16384/hw), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				plane := x.Data[p*hw : (p+1)*hw]
				dst := src[p*4*ph*pw : (p+1)*4*ph*pw]
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
		})
		hw, w = 4*ph*pw, pw // per image plane size and row stride below
		for ci := range c.In {
			for ky := range k {
				for kx := range k {
					offs[(ci*k+ky)*k+kx] = ci*hw + ((ky%2)*2+kx%2)*ph*pw + (ky/2)*pw + kx/2
				}
			}
		}
	} else {
		for ci := range c.In {
			for ky := range k {
				for kx := range k {
					offs[(ci*k+ky)*k+kx] = ci*hw + ky*w + kx
				}
			}
		}
	}
	// A unit of work is one output row, or for a 1x1 kernel, whose rows
	// are contiguous in both input and output, a chunk of the flattened
	// plane.
	rows, width := ho, wo
	if k == 1 && c.Stride == 1 {
		width = min(ohw, convColTarget)
		rows = ceilDivInt(ohw, width)
	}
	wq, bq := c.tapW, c.tapB
	unit := func(item int) {
		img, r := item/rows, item%rows
		var in, dst []float32
		cols := width
		if k == 1 && c.Stride == 1 {
			x0 := r * width
			cols = min(width, ohw-x0)
			in = src[img*c.In*hw+x0:]
			dst = out.Data[img*c.Out*ohw+x0:]
		} else {
			in = src[img*c.In*hw+r*w:]
			dst = out.Data[img*c.Out*ohw+r*wo:]
		}
		for g := 0; g < c.Out/4; g++ {
			convTapsRows(dst[g*4*ohw:], ohw, cols, in, offs, wq[g*taps*4:(g+1)*taps*4], bq[g*4:g*4+4])
		}
	}
	items := n * rows
	if n*c.Out*taps*ohw < convInlineMACs || items == 1 {
		for i := range items {
			unit(i)
		}
		return
	}
	tensor.ForEach(items, func(_, i int) { unit(i) })
}

// convTapsRows computes cols outputs of four channels, ldd apart in d:
// d[o*ldd+x] = b[o] + sum over t of w[4t+o]*src[offs[t]+x]. The kernel
// takes the longest multiple of 8; Go does the rest.
func convTapsRows(d []float32, ldd, cols int, src []float32, offs []int, w, b []float32) {
	taps := len(offs)
	_ = src[offs[taps-1]+cols-1] // the furthest value read
	_ = d[3*ldd+cols-1]
	_ = w[4*taps-1]
	done := convTapsVector(d, ldd, cols, src, offs, w, b)
	if done < cols && cols >= 8 {
		// The last eight columns again rather than a tail in Go: the
		// overlap is recomputed with the same arithmetic, so it is
		// rewritten with the same values.
		convTapsVector(d[cols-8:], ldd, 8, src[cols-8:], offs, w, b)
		return
	}
	for o := range 4 {
		row := d[o*ldd : o*ldd+cols]
		for x := done; x < cols; x++ {
			acc := b[o]
			for t, off := range offs {
				acc += w[4*t+o] * src[off+x]
			}
			row[x] = acc
		}
	}
}
