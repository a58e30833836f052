package tensor

// ConvGeom is the geometry of a square-kernel 2-D convolution (or pooling)
// window sliding over one image of C planes of H x W values.
//
// The column matrix of an image has C*K*K rows, one per (channel, kernel
// row, kernel column), and OutH()*OutW() columns, one per output pixel;
// convolution is then a single GEMM of the [Cout x C*K*K] weights with it.
type ConvGeom struct {
	C, H, W int // input planes and their size
	K       int // kernel size (K x K)
	Stride  int // >= 1
	// Pad is the zero border on every side. It may be negative for
	// Stride 1, which crops instead: the input gradient of a convolution
	// whose padding exceeds K-1 is such a cropped convolution.
	Pad int
}

// OutH is the number of output rows (PyTorch's floor rule).
func (g ConvGeom) OutH() int { return floorDiv(g.H+2*g.Pad-g.K, g.Stride) + 1 }

// OutW is the number of output columns.
func (g ConvGeom) OutW() int { return floorDiv(g.W+2*g.Pad-g.K, g.Stride) + 1 }

// Rows is the number of rows of the column matrix, C*K*K.
func (g ConvGeom) Rows() int { return g.C * g.K * g.K }

// Pointwise reports whether the column matrix is the image itself (a 1x1
// kernel, stride 1, no padding), so that im2col can be skipped.
func (g ConvGeom) Pointwise() bool { return g.K == 1 && g.Stride == 1 && g.Pad == 0 }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int) int { return -floorDiv(-a, b) }

// validRange returns the output positions [lo, hi) of one axis whose input
// position o*stride - pad + k falls inside [0, size); the rest read the
// zero border.
func validRange(size, out, stride, pad, k int) (lo, hi int) {
	lo = max(ceilDiv(pad-k, stride), 0)
	hi = min(floorDiv(size-1+pad-k, stride)+1, out)
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Im2col writes output rows [r0, r1) of the column matrix of image x
// (C*H*W values, CHW order) into col: row (c*K+ki)*K+kj of col, at column
// (oy-r0)*OutW()+ox, holds x[c, oy*Stride-Pad+ki, ox*Stride-Pad+kj], or 0
// where that falls in the border. Consecutive rows of col are ld apart, so
// several images (or row chunks) can sit side by side in one matrix.
//
// Working on a band of output rows lets a layer keep its column matrix
// small enough to stay in cache between im2col and the GEMM that reads it;
// a whole 224x224 image with 64 channels would be 115 MB.
func Im2col(g ConvGeom, x []float32, r0, r1 int, col []float32, ld int) {
	ho, wo := g.OutH(), g.OutW()
	if r0 < 0 || r1 > ho || r0 > r1 || len(x) < g.C*g.H*g.W || ld < (r1-r0)*wo {
		panic("tensor.Im2col: bad arguments")
	}
	if g.K == 3 && g.Stride == 1 && g.Pad == 1 && g.W >= 2 {
		im2col3x3(g, x, r0, r1, col, ld)
		return
	}
	n := (r1 - r0) * wo
	hw := g.H * g.W
	for c := 0; c < g.C; c++ {
		plane := x[c*hw : (c+1)*hw]
		for ki := 0; ki < g.K; ki++ {
			yLo, yHi := validRange(g.H, ho, g.Stride, g.Pad, ki)
			for kj := 0; kj < g.K; kj++ {
				row := col[((c*g.K+ki)*g.K+kj)*ld:]
				row = row[:n]
				xLo, xHi := validRange(g.W, wo, g.Stride, g.Pad, kj)
				for oy := r0; oy < r1; oy++ {
					dst := row[(oy-r0)*wo : (oy-r0+1)*wo]
					if oy < yLo || oy >= yHi || xLo == xHi {
						clear(dst)
						continue
					}
					src := plane[(oy*g.Stride-g.Pad+ki)*g.W:]
					clear(dst[:xLo])
					clear(dst[xHi:])
					ix := xLo*g.Stride - g.Pad + kj
					if g.Stride == 1 {
						copyShort(dst[xLo:xHi], src[ix:])
						continue
					}
					d := dst[xLo:xHi]
					for i := range d {
						d[i] = src[ix]
						ix += g.Stride
					}
				}
			}
		}
	}
}

// im2col3x3 is Im2col for VGG's only convolution, 3x3 with stride 1 and
// padding 1 (ho, wo = H, W). For a kernel row ki, the middle kernel column
// of the band is the block of input rows oy-1+ki copied as is; the left
// and right columns are the same block shifted by one value, with the
// value that wrapped in from the neighbouring row zeroed. So each
// (channel, ki) is three block copies plus a zero per row, whatever the
// width: the 14x14 and 4x4 maps of the late layers cost no more per value
// than the 224x224 ones.
func im2col3x3(g ConvGeom, x []float32, r0, r1 int, col []float32, ld int) {
	h, w := g.H, g.W
	n := (r1 - r0) * w
	for c := 0; c < g.C; c++ {
		plane := x[c*h*w : (c+1)*h*w]
		for ki := 0; ki < 3; ki++ {
			base := (c*3 + ki) * 3 * ld
			left := col[base : base+n]
			mid := col[base+ld : base+ld+n]
			right := col[base+2*ld : base+2*ld+n]
			// Output rows [lo, hi) read input rows inside the plane.
			lo, hi := max(r0, 1-ki), min(r1, h+1-ki)
			if lo >= hi {
				clear(left)
				clear(mid)
				clear(right)
				continue
			}
			a0, a1 := (lo-r0)*w, (hi-r0)*w
			clear(left[:a0])
			clear(mid[:a0])
			clear(right[:a0])
			clear(left[a1:])
			clear(mid[a1:])
			clear(right[a1:])
			src := plane[(lo-1+ki)*w : (hi-1+ki)*w]
			copy(mid[a0:a1], src)
			copy(left[a0+1:a1], src[:len(src)-1])
			copy(right[a0:a1-1], src[1:])
			for o := a0; o < a1; o += w {
				left[o] = 0
				right[o+w-1] = 0
			}
		}
	}
}

// copyShort is copy without the call into memmove for the short rows of
// the late, small layers (4 to 16 values), where the call dominates.
func copyShort(dst, src []float32) {
	if len(dst) > 16 {
		copy(dst, src)
		return
	}
	src = src[:len(dst)]
	for i := range dst {
		dst[i] = src[i]
	}
}

// Col2im is the adjoint of Im2col: it adds every entry of the column
// matrix rows [r0, r1) back into the input position it was read from, so
// that x += im2colᵀ(col). Entries that came from the border are dropped.
// The caller zeroes x first when it wants the plain adjoint.
//
// Its walk over (channel, kernel row, kernel column) repeats Im2col's on
// purpose: shared through a callback or an iterator (issue 12, session 7)
// the per-element loops kept their instructions, but the values they use
// moved from registers to the stack, and BenchmarkCol2im's stride-2 cases
// lost about 28% per CPU second (docs/BENCHMARKS.md).
func Col2im(g ConvGeom, col []float32, ld int, r0, r1 int, x []float32) {
	ho, wo := g.OutH(), g.OutW()
	if r0 < 0 || r1 > ho || r0 > r1 || len(x) < g.C*g.H*g.W || ld < (r1-r0)*wo {
		panic("tensor.Col2im: bad arguments")
	}
	hw := g.H * g.W
	for c := 0; c < g.C; c++ {
		plane := x[c*hw : (c+1)*hw]
		for ki := 0; ki < g.K; ki++ {
			yLo, yHi := validRange(g.H, ho, g.Stride, g.Pad, ki)
			for kj := 0; kj < g.K; kj++ {
				row := col[((c*g.K+ki)*g.K+kj)*ld:]
				xLo, xHi := validRange(g.W, wo, g.Stride, g.Pad, kj)
				if xLo == xHi {
					continue
				}
				for oy := max(r0, yLo); oy < min(r1, yHi); oy++ {
					src := row[(oy-r0)*wo+xLo : (oy-r0)*wo+xHi]
					dst := plane[(oy*g.Stride-g.Pad+ki)*g.W:]
					ix := xLo*g.Stride - g.Pad + kj
					if g.Stride == 1 {
						dst = dst[ix : ix+len(src)]
						for i, v := range src {
							dst[i] += v
						}
						continue
					}
					for _, v := range src {
						dst[ix] += v
						ix += g.Stride
					}
				}
			}
		}
	}
}
