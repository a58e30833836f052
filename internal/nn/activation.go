package nn

import (
	"math"
	"strconv"
	"strings"
	"unsafe"

	"starid/internal/tensor"
)

// elementwiseChunk is the smallest slice of an elementwise loop worth a
// goroutine: below ~64K values the hand-off costs more than the loop.
const elementwiseChunk = 1 << 16

// ReLU is max(x, 0) elementwise (PyTorch's nn.ReLU).
//
// In place, Forward overwrites x and returns it: at VGG16 sizes that saves a
// 400 MB buffer per convolution. This is only safe when the layer that
// produced x does not read its own output in Backward (Conv2d and
// BatchNorm2d do not; they read their input). Backward needs only where the
// output is zero, so it works the same either way (and no later layer may
// change the output in place); it writes dL/dx into dy's buffer and
// returns it.
type ReLU struct {
	Base
	Inplace bool

	out *tensor.Tensor // own output buffer when not in place
	y   *tensor.Tensor // last output: its zeros are the gradient mask
}

// NewReLU returns a ReLU, optionally in place.
func NewReLU(inplace bool) *ReLU { return &ReLU{Inplace: inplace} }

func (r *ReLU) String() string {
	if r.Inplace {
		return "ReLU(inplace=True)"
	}
	return "ReLU()"
}

// OutputShape implements Layer: any shape passes through.
func (r *ReLU) OutputShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// Forward implements Layer.
func (r *ReLU) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	r.y = forwardAct(&r.Base, &r.out, x, r.Inplace, actReLU)
	return r.y, nil
}

// forwardAct is the Forward of an elementwise activation a: in place it
// overwrites x; otherwise it writes the layer's own buffer, in training
// never the arena's (Backward reads the output).
func forwardAct(b *Base, own **tensor.Tensor, x *tensor.Tensor, inplace bool, a fusedAct) *tensor.Tensor {
	y := x
	if !inplace {
		if b.Training {
			*own = tensor.Reuse(*own, x.Shape...)
			y = *own
		} else {
			y = b.output(own, x, x.Shape...)
		}
	}
	src, dst := x.Data, y.Data
	tensor.ParallelMin(len(dst), elementwiseChunk, func(lo, hi int) {
		a.copy(dst[lo:hi], src[lo:hi])
	})
	return y
}

// Backward implements Layer. Unlike the GEMM layers it also works after an
// eval-mode Forward, since the mask is the output itself.
func (r *ReLU) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if r.y == nil {
		return nil, errNoForward(r)
	}
	if err := checkGrad(r, dy, r.y.Shape); err != nil {
		return nil, err
	}
	reluBackwardAll(dy.Data, r.y.Data)
	return dy, nil
}

// fusedOutput implements actLayer.
func (r *ReLU) fusedOutput(y *tensor.Tensor) { r.y = y }

// fusedAct implements actLayer.
func (r *ReLU) fusedAct() fusedAct {
	if !r.Inplace {
		return actNone
	}
	return actReLU
}

// reluBackwardAll is reluBackward split over the workers.
func reluBackwardAll(g, y []float32) {
	tensor.ParallelMin(len(g), elementwiseChunk, func(lo, hi int) {
		reluBackward(g[lo:hi], y[lo:hi])
	})
}

// The ReLU kernels work on bit patterns, without compares or branches (a
// branch on random signs mispredicts every other value, and the builtin max
// spends extra instructions on NaN and -0), and two float32 lanes at a time
// in a uint64 (SIMD within a register: the Go compiler does not vectorize).
// Lane arithmetic never carries across the 32-bit boundary.
//
// In a lane, max(x, 0) must zero exactly the patterns from -0 to -Inf,
// 0x80000000 to 0xff800000, and keep everything else, NaNs of either sign
// included (PyTorch propagates NaN; x86 arithmetic makes negative NaNs).
// With a = x & 0x7fffffff, a + 0x7fffff has bit 31 set iff a > 0x7f800000,
// i.e. iff x is NaN, so the lane is dropped iff its sign is set and that
// bit is clear.
const (
	laneSigns = 0x8000000080000000
	laneAbs   = 0x7fffffff7fffffff
	laneNaN   = 0x007fffff007fffff
	laneOnes  = 0xffffffff
)

// reluDrop is the scalar form of the lane rule: all ones where b is -0 to
// -Inf (int32 values up to -0x800000), zero elsewhere. Widening to int64
// keeps the positive NaNs near MaxInt32 from wrapping.
func reluDrop(b uint32) uint32 { return uint32((int64(int32(b)) + 0x7fffff) >> 63) }

// nonzero is all ones where b != 0, zero where b is 0: the scalar form of
// reluBackward's lane rule.
func nonzero(b uint32) uint32 { return uint32(int32(b|-b) >> 31) }

// pairs returns how many leading values of a and b to handle one by one so
// that both are 8-byte aligned after them (or all of them when they cannot
// be aligned together), and views of the rest as uint64 pairs.
func pairs(a, b []float32) (head int, a2, b2 []uint64) {
	b = b[:len(a)]
	for head < len(a) && (uintptr(unsafe.Pointer(&a[head]))|uintptr(unsafe.Pointer(&b[head])))&7 != 0 {
		head++
		if head == 2 { // a and b are 4 bytes out of step
			return len(a), nil, nil
		}
	}
	n := (len(a) - head) / 2
	if n == 0 {
		return head, nil, nil
	}
	a2 = unsafe.Slice((*uint64)(unsafe.Pointer(&a[head])), n)
	b2 = unsafe.Slice((*uint64)(unsafe.Pointer(&b[head])), n)
	return head, a2, b2
}

// reluForward sets dst = max(src, 0); dst may be src.
func reluForward(dst, src []float32) {
	src = src[:len(dst)]
	head, d2, s2 := pairs(dst, src)
	for i := 0; i < head; i++ {
		b := math.Float32bits(src[i])
		dst[i] = math.Float32frombits(b &^ reluDrop(b))
	}
	d2 = d2[:len(s2)]
	for j, w := range s2 {
		nan := (w & laneAbs) + laneNaN
		drop := (w &^ nan & laneSigns) >> 31
		d2[j] = w &^ (drop * laneOnes)
	}
	for i := head + 2*len(s2); i < len(dst); i++ {
		b := math.Float32bits(src[i])
		dst[i] = math.Float32frombits(b &^ reluDrop(b))
	}
}

// reluBackward sets g[i] = 0 where y[i] <= 0. A ReLU output is +0, positive
// or NaN (reluForward turns -0 into +0), so that is exactly where y's bit
// pattern is 0; NaN outputs let the gradient through, as PyTorch's mask
// (output <= 0) does. In a lane, (y & 0x7fffffff) + 0x7fffffff, or-ed with
// y, has bit 31 set iff y != 0.
func reluBackward(g, y []float32) {
	y = y[:len(g)]
	head, g2, y2 := pairs(g, y)
	for i := 0; i < head; i++ {
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & nonzero(math.Float32bits(y[i])))
	}
	g2 = g2[:len(y2)]
	for j, w := range y2 {
		nz := ((((w & laneAbs) + laneAbs) | w) & laneSigns) >> 31
		g2[j] &= nz * laneOnes
	}
	for i := head + 2*len(y2); i < len(g); i++ {
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & nonzero(math.Float32bits(y[i])))
	}
}

// LeakyReLU is x for x > 0 and slope*x otherwise (PyTorch's nn.LeakyReLU).
//
// Backward needs to know where x > 0. Not in place, it reads x (kept by
// reference, as the layer conventions allow). In place it reads the sign of
// the output, which equals the sign of x only for slope >= 0; with a
// negative slope the layer therefore works out of place even when asked
// for in place (PyTorch refuses that combination in backward instead).
type LeakyReLU struct {
	Base
	Slope   float32
	Inplace bool

	out  *tensor.Tensor
	mask *tensor.Tensor // tensor whose sign is the sign of x
}

// NewLeakyReLU returns a leaky ReLU with the given negative slope.
func NewLeakyReLU(slope float32, inplace bool) *LeakyReLU {
	return &LeakyReLU{Slope: slope, Inplace: inplace}
}

func (l *LeakyReLU) String() string {
	s := "LeakyReLU(negative_slope=" + formatPyFloat(float64(l.Slope), 32)
	if l.Inplace {
		s += ", inplace=True"
	}
	return s + ")"
}

// OutputShape implements Layer.
func (l *LeakyReLU) OutputShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

func (l *LeakyReLU) inPlace() bool { return l.Inplace && l.Slope >= 0 }

// Forward implements Layer.
func (l *LeakyReLU) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	y := x
	l.mask = x
	if !l.inPlace() {
		y = l.output(&l.out, x, x.Shape...)
	}
	src, dst, s := x.Data, y.Data, l.Slope
	tensor.ParallelMin(len(dst), elementwiseChunk, func(lo, hi int) {
		leakyForward(dst[lo:hi], src[lo:hi], s)
	})
	return y, nil
}

// Backward implements Layer; it writes dL/dx into dy and returns it.
func (l *LeakyReLU) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if l.mask == nil {
		return nil, errNoForward(l)
	}
	if err := checkGrad(l, dy, l.mask.Shape); err != nil {
		return nil, err
	}
	m, g, s := l.mask.Data, dy.Data, l.Slope
	tensor.ParallelMin(len(g), elementwiseChunk, func(lo, hi int) {
		leakyBackward(g[lo:hi], m[lo:hi], s)
	})
	return dy, nil
}

// slopeFactor returns 1 where v > 0 and slope elsewhere (NaN included, as
// in PyTorch), chosen by a conditional move on the bits rather than a
// branch that random signs would mispredict.
func slopeFactor(v float32, one, slope uint32) float32 {
	f := slope
	if v > 0 {
		f = one
	}
	return math.Float32frombits(f)
}

func leakyForward(dst, src []float32, slope float32) {
	src = src[:len(dst)]
	one, sb := math.Float32bits(1), math.Float32bits(slope)
	for i, v := range src {
		dst[i] = v * slopeFactor(v, one, sb)
	}
}

func leakyBackward(g, m []float32, slope float32) {
	m = m[:len(g)]
	one, sb := math.Float32bits(1), math.Float32bits(slope)
	for i, v := range m {
		g[i] *= slopeFactor(v, one, sb)
	}
}

// formatPyFloat formats v the way Python's repr prints a float, so layer
// descriptions read like PyTorch's: 1e-05, 0.1, 1.0, 1e+16. bitSize 32
// gives the shortest form of a float32 (0.1 rather than 0.10000000149).
func formatPyFloat(v float64, bitSize int) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(v, 'e', -1, bitSize) // like "1.5e-05"
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e // Go's exponent form matches Python's: sign, two digits at least
	}
	f := strconv.FormatFloat(v, 'f', -1, bitSize)
	if !strings.ContainsRune(f, '.') {
		f += ".0"
	}
	return f
}
