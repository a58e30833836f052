package nn

import (
	"fmt"
	"math"

	"starid/internal/tensor"
)

// BatchNorm2d normalizes each channel of an NCHW batch (PyTorch's
// nn.BatchNorm2d with affine=True, track_running_stats=True; Ioffe and
// Szegedy, 2015): y = (x - mean) / sqrt(var + Eps) * weight + bias.
//
// In training, mean and var are the batch's statistics per channel over N,
// H and W (var biased, divided by N*H*W), and the running statistics move
// towards them: r = (1-Momentum)*r + Momentum*stat, where the variance
// stat is the unbiased one (divided by N*H*W-1), exactly as PyTorch does.
// In evaluation the running statistics are used instead.
//
// At VGG16 sizes one input is 400 MB, so the layer is built around passes
// over memory: Forward reads x once for both sums and once more to write y;
// Backward reads dy and x once for both reductions and once more to write
// dx, into dy's buffer. Channels are split across the cores, and each
// channel's second pass follows its first immediately, while its planes
// may still be in the last-level cache.
type BatchNorm2d struct {
	Base
	Channels int
	Eps      float64 // added to the variance; 1e-5
	Momentum float64 // weight of the new batch in the running statistics; 0.1

	Weight, Bias *Param // [Channels]: ones and zeros initially
	// Running statistics (buffers): running_mean starts at 0, running_var
	// at 1; num_batches_tracked counts training Forwards.
	RunningMean, RunningVar, NumBatchesTracked *Param

	x     *tensor.Tensor // input of the last Forward (training or not)
	out   *tensor.Tensor
	batch bool      // the last Forward normalized with batch statistics
	mean  []float64 // per-channel statistics the last Forward used
	istd  []float64 // 1/sqrt(var + Eps)
	// fuseReLU: the next Forward also applies the in-place ReLU after the
	// layer (fuse.go); relu: the last one did, so Backward applies its
	// mask, recomputed from x with the per-channel scale and shift that
	// Forward used.
	fuseReLU, relu bool
	scale, shift   []float32
	// reluMask: Backward also applies the mask of the in-place ReLU
	// before the layer, whose output is x (fuse.go).
	reluMask bool
}

func (b *BatchNorm2d) takeReLUMask(on bool) { b.reluMask = on }

// setFusedAct implements actFuser: batch norm fuses ReLU only.
func (b *BatchNorm2d) setFusedAct(a fusedAct) bool {
	b.fuseReLU = a == actReLU
	return a == actNone || a == actReLU
}

func (b *BatchNorm2d) fusesActBackward() bool { return true }

// NewBatchNorm2d returns a BatchNorm2d over the given number of channels
// with PyTorch's defaults. It panics when channels < 1.
func NewBatchNorm2d(channels int) *BatchNorm2d {
	if channels < 1 {
		panic(fmt.Sprintf("nn.NewBatchNorm2d: bad channel count %d", channels))
	}
	b := &BatchNorm2d{Channels: channels, Eps: 1e-5, Momentum: 0.1}
	b.Weight = NewParam("weight", channels)
	b.Weight.Value.Fill(1)
	b.Bias = NewParam("bias", channels)
	b.RunningMean = NewBuffer("running_mean", channels)
	b.RunningVar = NewBuffer("running_var", channels)
	b.RunningVar.Value.Fill(1)
	b.NumBatchesTracked = NewBuffer("num_batches_tracked")
	b.NumBatchesTracked.Value.Shape = []int{} // a scalar: shape [], one value
	b.NumBatchesTracked.Int64 = true
	return b
}

func (b *BatchNorm2d) String() string {
	return fmt.Sprintf("BatchNorm2d(%d, eps=%s, momentum=%s, affine=True, track_running_stats=True)",
		b.Channels, formatPyFloat(b.Eps, 64), formatPyFloat(b.Momentum, 64))
}

// Params implements Layer.
func (b *BatchNorm2d) Params() []*Param { return []*Param{b.Weight, b.Bias} }

// Buffers implements Layer, in PyTorch's state_dict order.
func (b *BatchNorm2d) Buffers() []*Param {
	return []*Param{b.RunningMean, b.RunningVar, b.NumBatchesTracked}
}

// OutputShape implements Layer.
func (b *BatchNorm2d) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[1] != b.Channels {
		return nil, shapeErr(b, in, "[N, %d, H, W]", b.Channels)
	}
	return append([]int(nil), in...), nil
}

// Forward implements Layer.
func (b *BatchNorm2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if _, err := b.OutputShape(x.Shape); err != nil {
		return nil, err
	}
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	m := n * hw
	if b.Training && m < 2 {
		// The unbiased variance needs two values; PyTorch refuses too.
		return nil, fmt.Errorf("%s: input shape %s has %d value per channel, training needs more than 1",
			b, tensor.ShapeString(x.Shape), m)
	}
	out := b.output(&b.out, x, x.Shape...)
	b.x, b.batch, b.relu = x, b.Training, b.fuseReLU
	if len(b.mean) != c {
		b.mean, b.istd = make([]float64, c), make([]float64, c)
		b.scale, b.shift = make([]float32, c), make([]float32, c)
	}
	xs, ys := x.Data, out.Data
	w, bias := b.Weight.Value.Data, b.Bias.Value.Data
	rm, rv := b.RunningMean.Value.Data, b.RunningVar.Value.Data
	mom, unbias := b.Momentum, float64(m)/float64(m-1)
	tensor.Parallel(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, v float64
			if b.Training {
				s, q := 0.0, 0.0
				for i := 0; i < n; i++ {
					off := (i*c + ch) * hw
					ps, pq := sumAndSquares(xs[off : off+hw])
					s += ps
					q += pq
				}
				mean = s / float64(m)
				v = max(q/float64(m)-mean*mean, 0) // rounding can dip below 0
				rm[ch] = float32((1-mom)*float64(rm[ch]) + mom*mean)
				rv[ch] = float32((1-mom)*float64(rv[ch]) + mom*v*unbias)
			} else {
				mean, v = float64(rm[ch]), float64(rv[ch])
			}
			istd := 1 / math.Sqrt(v+b.Eps)
			b.mean[ch], b.istd[ch] = mean, istd
			scale := float64(w[ch]) * istd
			sc, sh := float32(scale), float32(float64(bias[ch])-mean*scale)
			b.scale[ch], b.shift[ch] = sc, sh
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				if b.relu {
					scaleShiftReLU(ys[off:off+hw], xs[off:off+hw], sc, sh)
				} else {
					scaleShift(ys[off:off+hw], xs[off:off+hw], sc, sh)
				}
			}
		}
	})
	if b.Training {
		b.NumBatchesTracked.Value.Data[0]++
	}
	return out, nil
}

// Backward implements Layer. After a training Forward it is the full
// gradient through the batch statistics; after an eval Forward the
// statistics are constants and the layer is a per-channel affine map.
// dL/dx is written into dy's buffer and returned.
//
// With xhat = (x-mean)*istd and M = N*H*W values per channel, training
// gives dx = w*istd*(dy - mean(dy) - xhat*mean(dy*xhat)), which is
// a*dy + b*x + c per channel: one pass once the two sums are known.
func (b *BatchNorm2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if b.x == nil {
		return nil, errNoForward(b)
	}
	if err := checkGrad(b, dy, b.x.Shape); err != nil {
		return nil, err
	}
	n, c, hw := b.x.Shape[0], b.x.Shape[1], b.x.Shape[2]*b.x.Shape[3]
	m := float64(n * hw)
	xs, g := b.x.Data, dy.Data
	w := b.Weight.Value.Data
	b.Weight.EnsureGrad()
	b.Bias.EnsureGrad()
	var dw, db []float32
	if !b.Weight.Frozen {
		dw = b.Weight.Grad.Data
	}
	if !b.Bias.Frozen {
		db = b.Bias.Grad.Data
	}
	tensor.Parallel(c, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			sdy, sdyx := 0.0, 0.0
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				gi, xi := g[off:off+hw], xs[off:off+hw]
				if b.relu {
					// The ReLU's Backward, folded into the pass that
					// reads dy and x anyway: masked here, dy's values
					// are final for both sums and the write below.
					reluMaskGrad(gi, xi, b.scale[ch], b.shift[ch])
				}
				s, d := sumAndDot(gi, xi)
				sdy += s
				sdyx += d
			}
			mean, istd := b.mean[ch], b.istd[ch]
			sdyxhat := istd * (sdyx - mean*sdy) // sum of dy*xhat
			if !b.Weight.Frozen {
				dw[ch] += float32(sdyxhat)
			}
			if !b.Bias.Frozen {
				db[ch] += float32(sdy)
			}
			k := float64(w[ch]) * istd
			a, bx, c0 := k, 0.0, 0.0
			if b.batch {
				t := k * istd * sdyxhat / m
				bx = -t
				c0 = t*mean - k*sdy/m
			}
			for i := 0; i < n; i++ {
				off := (i*c + ch) * hw
				if b.reluMask {
					scaleShiftGradMasked(g[off:off+hw], xs[off:off+hw], float32(a), float32(bx), float32(c0))
				} else {
					scaleShiftGrad(g[off:off+hw], xs[off:off+hw], float32(a), float32(bx), float32(c0))
				}
			}
		}
	})
	return dy, nil
}

// sumAndSquares returns the sum and the sum of squares of x in float64.
// Four independent accumulator pairs hide the latency of the adds, which
// otherwise bound the loop well below memory speed. sumAndDot(x, x) gives
// the same bits but reads and converts each value twice: it cost the
// forward pass about a quarter of its speed per CPU-second
// (BenchmarkBatchNorm2d, 32x64x64x64: 14.5 against 19.5 GB/s-cpu).
func sumAndSquares(x []float32) (s, q float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a, b, c, d := float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])
		s0 += a
		s1 += b
		s2 += c
		s3 += d
		q0 += a * a
		q1 += b * b
		q2 += c * c
		q3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a
		q0 += a * a
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// sumAndDot returns sum(g) and sum(g*x) in float64.
func sumAndDot(g, x []float32) (s, d float64) {
	x = x[:len(g)]
	var s0, s1, s2, s3, d0, d1, d2, d3 float64
	i := 0
	for ; i+4 <= len(g); i += 4 {
		u := g[i : i+4 : i+4]
		v := x[i : i+4 : i+4]
		a, b, c, e := float64(u[0]), float64(u[1]), float64(u[2]), float64(u[3])
		s0 += a
		s1 += b
		s2 += c
		s3 += e
		d0 += a * float64(v[0])
		d1 += b * float64(v[1])
		d2 += c * float64(v[2])
		d3 += e * float64(v[3])
	}
	for ; i < len(g); i++ {
		a := float64(g[i])
		s0 += a
		d0 += a * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)
}

// scaleShift sets y = x*scale + shift.
func scaleShift(y, x []float32, scale, shift float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = v*scale + shift
	}
}

// scaleShiftGrad sets g = a*g + b*x + c in place.
func scaleShiftGrad(g, x []float32, a, b, c float32) {
	x = x[:len(g)]
	for i, v := range x {
		g[i] = a*g[i] + b*v + c
	}
}

// scaleShiftGradMasked is scaleShiftGrad, then the gradient of the ReLU
// whose output is x: g is kept where x is not zero (reluBackward's rule).
func scaleShiftGradMasked(g, x []float32, a, b, c float32) {
	x = x[:len(g)]
	for i, v := range x {
		g[i] = math.Float32frombits(math.Float32bits(a*g[i]+b*v+c) & nonzero(math.Float32bits(v)))
	}
}

// scaleShiftReLU sets y = max(x*scale + shift, 0) with reluForward's bit
// rules (-0 becomes +0, NaN stays): scaleShift and the ReLU in one pass.
func scaleShiftReLU(y, x []float32, scale, shift float32) {
	x = x[:len(y)]
	for i, v := range x {
		b := math.Float32bits(v*scale + shift)
		y[i] = math.Float32frombits(b &^ reluDrop(b))
	}
}

// reluMaskGrad zeroes g where the fused ReLU's output was zero, that output
// recomputed from the BatchNorm input x exactly as scaleShiftReLU made it;
// NaN outputs keep the gradient, as reluBackward does.
func reluMaskGrad(g, x []float32, scale, shift float32) {
	x = x[:len(g)]
	for i, v := range x {
		b := math.Float32bits(v*scale + shift)
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & nonzero(b&^reluDrop(b)))
	}
}
