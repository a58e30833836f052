package nn

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"starid/internal/tensor"
)

// Dropout is inverted dropout (PyTorch's nn.Dropout): in training each value
// is zeroed with probability P and the survivors are scaled by 1/(1-P), so
// that evaluation, which passes x through unchanged, needs no rescaling.
//
// The mask is never stored. Each training Forward draws one seed from the
// layer's rng; the mask is a pure function of that seed, computed in fixed
// blocks of dropBlock values, each from its own counter-based stream. That
// makes it cheap to generate in parallel, independent of the worker count
// (the same rng state gives the same mask on 1 or 16 cores), and lets
// Backward regenerate it instead of keeping a mask as large as the input.
type Dropout struct {
	Base
	P float64

	rng  *rand.Rand
	seed uint64 // seed of the last training Forward's mask
	// reuseMask keeps the previous seed instead of drawing a new one, so
	// that repeated Forwards apply the same mask (finite differences).
	reuseMask bool
	hasSeed   bool

	out     *tensor.Tensor
	shape   []int // shape of the last Forward's input
	dropped bool  // the last Forward applied a mask (training, P > 0)
	ran     bool
}

// dropBlock is how many values share one random stream. Small enough to
// give both cores work on VGG's smallest dropout input, large enough that
// seeding a stream is negligible.
const dropBlock = 1 << 14

// NewDropout returns a Dropout layer drawing its masks from rng (which only
// training needs; it may be nil for a layer used in evaluation). It panics
// unless 0 <= p <= 1, as PyTorch raises for such a p.
func NewDropout(p float64, rng *rand.Rand) *Dropout {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("nn.NewDropout: probability %g is not in [0, 1]", p))
	}
	return &Dropout{P: p, rng: rng}
}

func (d *Dropout) String() string {
	return "Dropout(p=" + formatPyFloat(d.P, 64) + ", inplace=False)"
}

// OutputShape implements Layer.
func (d *Dropout) OutputShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// Forward implements Layer. In eval mode, or with P = 0, it returns x itself.
func (d *Dropout) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	d.shape = append(d.shape[:0], x.Shape...)
	d.ran = true
	d.dropped = d.Training && d.P > 0
	if !d.dropped {
		return x, nil
	}
	if !d.reuseMask || !d.hasSeed {
		d.seed = d.rng.Uint64()
		d.hasSeed = true
	}
	out := d.output(&d.out, x, x.Shape...)
	d.applyMask(out.Data, x.Data)
	return out, nil
}

// Backward implements Layer: dL/dx is dy times the same mask, written into
// dy and returned.
func (d *Dropout) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if !d.ran {
		return nil, errNoForward(d)
	}
	if err := checkGrad(d, dy, d.shape); err != nil {
		return nil, err
	}
	if d.dropped {
		d.applyMask(dy.Data, dy.Data)
	}
	return dy, nil
}

// applyMask sets dst = src * mask/(1-P) for the current seed; dst may be src.
func (d *Dropout) applyMask(dst, src []float32) {
	if d.P >= 1 {
		clear(dst) // 1/(1-P) is infinite; PyTorch returns zeros
		return
	}
	// Keep a value when its 32 random bits are at least thresh, which
	// happens with probability 1 - thresh/2^32 = 1 - P (within 2^-32).
	thresh := uint64(math.Round(d.P * (1 << 32)))
	scale := math.Float32bits(float32(1 / (1 - d.P)))
	blocks := (len(dst) + dropBlock - 1) / dropBlock
	seed := d.seed
	tensor.ParallelMin(blocks, 4, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s, e := b*dropBlock, min((b+1)*dropBlock, len(dst))
			dropBlockMask(dst[s:e], src[s:e], blockState(seed, b), thresh, scale)
		}
	})
}

// blockState derives block b's stream from the seed with a SplitMix64
// finalizer, so neighbouring blocks get unrelated streams.
func blockState(seed uint64, b int) uint64 {
	z := seed + uint64(b+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// dropBlockMask applies one block's mask. The generator is wyrand (one
// add and one 64x64->128 multiply per 64 bits, two values per step), far
// cheaper per value than math/rand's generators behind an interface, and
// the keep/drop choice is a mask on the scale's bits, not a branch that
// would mispredict on every other value at P = 0.5.
func dropBlockMask(dst, src []float32, state, thresh uint64, scale uint32) {
	src = src[:len(dst)]
	factor := func(r uint32) float32 {
		// uint64(r) - thresh borrows, setting the top bit, exactly when r < thresh.
		drop := uint32(int64(uint64(r)-thresh) >> 63)
		return math.Float32frombits(scale &^ drop)
	}
	i := 0
	for ; i+1 < len(dst); i += 2 {
		state += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(state, state^0xe7037ed1a0b428db)
		r := hi ^ lo
		dst[i] = src[i] * factor(uint32(r))
		dst[i+1] = src[i+1] * factor(uint32(r>>32))
	}
	if i < len(dst) {
		state += 0xa0761d6478bd642f
		hi, lo := bits.Mul64(state, state^0xe7037ed1a0b428db)
		dst[i] = src[i] * factor(uint32(hi^lo))
	}
}
