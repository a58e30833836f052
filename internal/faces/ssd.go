package faces

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// The SSD detector is face-api's SsdMobilenetv1: a MobileNetV1 backbone
// (depthwise-separable convolutions with ReLU6) and an SSD head predicting
// boxes on six feature maps against 5,118 fixed prior boxes. Every fact
// below comes from its TypeScript (ssdMobilenetv1/*.ts):
//
//   - input: the photo padded with zeros at the bottom or right to a
//     square, resized to 512x512, then p/127.5 - 1;
//   - conv_0: 3x3 stride 2 convolution, TF SAME, plus bn offset, clipped
//     to [0, 6]; then 13 pairs: depthwise 3x3 (stride 2 in pairs 2, 4, 6
//     and 12, else 1; SAME) with batch norm (epsilon 0.001), clip, and
//     pointwise 1x1 plus offset, clip. Pair 11's output (512 x 32 x 32)
//     and pair 13's (1024 x 16 x 16) feed the head;
//   - the head adds four more maps (8, 4, 2 and 1 cells) by a 1x1 then a
//     3x3 stride-2 SAME convolution each, all clipped;
//   - each of the six maps gets a 1x1 box predictor (4 numbers per prior)
//     and a 1x1 class predictor (3 logits per prior, the second is
//     "face"), 3 priors per cell on the first map and 6 on the others;
//   - decoding against the priors (Output/extra_dim): centre offsets
//     divided by 10, log sizes divided by 5; NMS at IoU 0.5 keeps at most
//     100 boxes with score above the threshold.
//
// TF's SAME padding of a 3x3 stride-2 convolution on an even map puts the
// one padding row and column at the bottom and right: the depthwise layers
// pad that way themselves (nn.DepthwiseConv2d.Same), and a samePad layer
// precedes the other, unpadded stride-2 convolutions; stride-1 3x3
// convolutions pad one on every side, which the engine's layers do.

// ssdManifest names the SSD detector's weights under a models folder.
const ssdManifest = SSDMobileNetV1

// SSDSize is the SSD detector's input size: its prior boxes are fixed for
// a 512x512 input, so unlike the tiny detector it has no other sizes.
const SSDSize = 512

// SSDMinScore is face-api's default SSD threshold (minConfidence).
const SSDMinScore = 0.5

// SSDIoU is face-api's NMS threshold for the SSD detector.
const SSDIoU = 0.5

// ssdMaxResults is face-api's SsdMobilenetv1Options default maxResults.
const ssdMaxResults = 100

// ssdBNEpsilon is the batch-norm epsilon of mobileNetV1.ts, the float32
// 0.001.
const ssdBNEpsilon = 0.0010000000474974513

// ssdPriors is the number of prior boxes: 32*32*3 + (16*16 + 8*8 + 4*4 +
// 2*2 + 1*1)*6.
const ssdPriors = 5118

// ssdBackbone are the output channels of the backbone's conv_0 and pairs
// 1..13, and ssdStride2 the pairs whose depthwise convolution has stride 2.
var (
	ssdBackbone = [14]int{32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024}
	ssdStride2  = map[int]bool{2: true, 4: true, 6: true, 12: true}
)

// ssdExtra are the output channels of the head's conv_0..conv_7 (even:
// 1x1, odd: 3x3 stride 2), and ssdPredIn the channels of the six maps the
// predictors read, with ssdAnchors priors per cell.
var (
	ssdExtra   = [8]int{256, 512, 128, 256, 128, 256, 64, 128}
	ssdPredIn  = [6]int{512, 1024, 512, 256, 256, 128}
	ssdAnchors = [6]int{3, 6, 6, 6, 6, 6}
)

// SSD finds faces with face-api's SSD MobileNetV1 detector: several times
// slower than the tiny detector, but it finds turned and partly hidden
// faces the tiny one misses. Safe for concurrent use, with the same
// per-call copies of the layers as Detector.
type SSD struct {
	// Engine-layout weights: the backbone's first convolution, the
	// pairs' depthwise filters with batch norm folded in, their pointwise
	// filters, the head's convolutions and the six predictors (box and
	// class filters stacked into one convolution).
	conv0W, conv0B *tensor.Tensor
	dwW, dwB       [13]*tensor.Tensor
	pwW, pwB       [13]*tensor.Tensor
	exW, exB       [8]*tensor.Tensor
	predW, predB   [6]*tensor.Tensor
	priors         []float64 // ymin, xmin, ymax, xmax per prior, in [0, 1] of the input square

	nets netPool[*ssdNet]
}

// ssdNet is one private copy of the network. Each stage is its own
// Sequential, so its output (its arena's) survives while later stages run.
type ssdNet struct {
	low, high *nn.Sequential    // to pair 11's output; to pair 13's
	extra     [4]*nn.Sequential // the head's four extra maps
	pred      [6]*nn.Conv2d
	in        *tensor.Tensor
}

// LoadSSD reads the SSD detector's weights from modelDir, the folder
// holding model/ (see ModelDir).
func LoadSSD(modelDir string) (*SSD, error) {
	return loadNet(modelDir, ssdManifest, NewSSD)
}

// ssdSpecs lists every tensor the detector reads; the manifest's int32
// constants (shapes of TF's graph) are not needed.
func ssdSpecs() []tensorSpec {
	s := []tensorSpec{
		{"MobilenetV1/Conv2d_0_pointwise/weights", []int{3, 3, 3, ssdBackbone[0]}},
		{"MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset", []int{ssdBackbone[0]}},
	}
	for i := 1; i <= 13; i++ {
		in, out := ssdBackbone[i-1], ssdBackbone[i]
		dw := fmt.Sprintf("MobilenetV1/Conv2d_%d_depthwise/", i)
		pw := fmt.Sprintf("MobilenetV1/Conv2d_%d_pointwise/", i)
		s = append(s, tensorSpec{dw + "depthwise_weights", []int{3, 3, in, 1}})
		for _, bn := range []string{"gamma", "beta", "moving_mean", "moving_variance"} {
			s = append(s, tensorSpec{dw + "BatchNorm/" + bn, []int{in}})
		}
		s = append(s,
			tensorSpec{pw + "weights", []int{1, 1, in, out}},
			tensorSpec{pw + "convolution_bn_offset", []int{out}})
	}
	in := ssdBackbone[13]
	for i, out := range ssdExtra {
		k := 1 + 2*(i%2)
		p := fmt.Sprintf("Prediction/Conv2d_%d_pointwise/", i)
		s = append(s,
			tensorSpec{p + "weights", []int{k, k, in, out}},
			tensorSpec{p + "convolution_bn_offset", []int{out}})
		in = out
	}
	for i, in := range ssdPredIn {
		for _, part := range []struct {
			name string
			per  int
		}{{"BoxEncodingPredictor", 4}, {"ClassPredictor", 3}} {
			p := fmt.Sprintf("Prediction/BoxPredictor_%d/%s/", i, part.name)
			n := ssdAnchors[i] * part.per
			s = append(s, tensorSpec{p + "weights", []int{1, 1, in, n}}, tensorSpec{p + "biases", []int{n}})
		}
	}
	return append(s, tensorSpec{"Output/extra_dim", []int{1, ssdPriors, 4}})
}

// NewSSD checks that w holds every tensor of the SSD detector with its
// exact shape and converts them to the engine's layouts.
func NewSSD(w *Weights) (*SSD, error) {
	get, err := w.pick("SSD detector", ssdManifest, ssdSpecs())
	if err != nil {
		return nil, err
	}
	s := &SSD{
		conv0W: hwioToOIHW(get["MobilenetV1/Conv2d_0_pointwise/weights"]),
		conv0B: get["MobilenetV1/Conv2d_0_pointwise/convolution_bn_offset"].Clone(),
	}
	for i := range 13 {
		dw := fmt.Sprintf("MobilenetV1/Conv2d_%d_depthwise/", i+1)
		pw := fmt.Sprintf("MobilenetV1/Conv2d_%d_pointwise/", i+1)
		s.dwW[i], s.dwB[i] = foldBatchNorm(depthwiseToC1HW(get[dw+"depthwise_weights"]),
			get[dw+"BatchNorm/gamma"], get[dw+"BatchNorm/beta"],
			get[dw+"BatchNorm/moving_mean"], get[dw+"BatchNorm/moving_variance"])
		s.pwW[i] = hwioToOIHW(get[pw+"weights"])
		s.pwB[i] = get[pw+"convolution_bn_offset"].Clone()
	}
	for i := range ssdExtra {
		p := fmt.Sprintf("Prediction/Conv2d_%d_pointwise/", i)
		s.exW[i] = hwioToOIHW(get[p+"weights"])
		s.exB[i] = get[p+"convolution_bn_offset"].Clone()
	}
	for i := range ssdPredIn {
		p := fmt.Sprintf("Prediction/BoxPredictor_%d/", i)
		s.predW[i], s.predB[i] = stackFilters(
			hwioToOIHW(get[p+"BoxEncodingPredictor/weights"]), get[p+"BoxEncodingPredictor/biases"],
			hwioToOIHW(get[p+"ClassPredictor/weights"]), get[p+"ClassPredictor/biases"])
	}
	priors := get["Output/extra_dim"].Data
	s.priors = make([]float64, len(priors))
	for i, v := range priors {
		s.priors[i] = float64(v)
	}
	s.nets = newNetPool(s.newNet)
	return s, nil
}

// foldBatchNorm folds inference batch norm into a depthwise convolution
// [C, 1, K, K]: TF computes (x - mean) * gamma / sqrt(var + eps) + beta,
// which is x * f + (beta - mean * f) with f per channel. Folding rounds
// differently from TF's separate steps by a few float32 ulps.
func foldBatchNorm(w, gamma, beta, mean, variance *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	c := w.Shape[0]
	per := len(w.Data) / c
	b := tensor.New(c)
	for ch := range c {
		f := float64(gamma.Data[ch]) / math.Sqrt(float64(variance.Data[ch])+ssdBNEpsilon)
		for i := range per {
			w.Data[ch*per+i] = float32(float64(w.Data[ch*per+i]) * f)
		}
		b.Data[ch] = float32(float64(beta.Data[ch]) - float64(mean.Data[ch])*f)
	}
	return w, b
}

// stackFilters joins a predictor's box and class convolutions (same input,
// 1x1) into one: outputs are the box channels then the class channels, so
// each map is read once.
func stackFilters(boxW, boxB, clsW, clsB *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	nb, nc, in := boxW.Shape[0], clsW.Shape[0], boxW.Shape[1]
	w := tensor.New(nb+nc, in, 1, 1)
	copy(w.Data, boxW.Data)
	copy(w.Data[nb*in:], clsW.Data)
	b := tensor.New(nb + nc)
	copy(b.Data, boxB.Data)
	copy(b.Data[nb:], clsB.Data)
	return w, b
}

// newNet builds a private copy of the network whose layers point at the
// shared weights.
func (s *SSD) newNet() *ssdNet {
	rng := rand.New(rand.NewPCG(1, 2)) // the initial values are replaced at once
	conv := func(w, b *tensor.Tensor, stride int) []nn.Layer {
		k := w.Shape[2]
		pad := k / 2 // stride 1: SAME pads evenly
		var layers []nn.Layer
		if stride == 2 {
			pad = 0
			layers = append(layers, &samePad{kernel: k})
		}
		c := nn.NewConv2d(w.Shape[1], w.Shape[0], k, stride, pad, true, rng)
		c.Weight.Value, c.Bias.Value = w, b
		return append(layers, c, nn.NewReLU6(true))
	}
	pair := func(i int) []nn.Layer {
		stride := 1
		if ssdStride2[i+1] {
			stride = 2
		}
		dw := nn.NewDepthwiseConv2d(s.dwW[i].Shape[0], 3, stride, 1, true, rng)
		dw.Same = true // at stride 1 the same as padding 1
		dw.Weight.Value, dw.Bias.Value = s.dwW[i], s.dwB[i]
		return append([]nn.Layer{dw, nn.NewReLU6(true)}, conv(s.pwW[i], s.pwB[i], 1)...)
	}
	low := conv(s.conv0W, s.conv0B, 2)
	for i := range 11 {
		low = append(low, pair(i)...)
	}
	n := &ssdNet{low: evalSeq(low), high: evalSeq(append(pair(11), pair(12)...))}
	for i := range n.extra {
		n.extra[i] = evalSeq(append(conv(s.exW[2*i], s.exB[2*i], 1), conv(s.exW[2*i+1], s.exB[2*i+1], 2)...))
	}
	for i := range n.pred {
		c := nn.NewConv2d(ssdPredIn[i], s.predW[i].Shape[0], 1, 1, 0, true, rng)
		c.Weight.Value, c.Bias.Value = s.predW[i], s.predB[i]
		c.SetTraining(false)
		c.SetNeedInputGrad(false)
		n.pred[i] = c
	}
	return n
}

// evalSeq wraps layers in an evaluation-mode Sequential that computes no
// input gradient.
func evalSeq(layers []nn.Layer) *nn.Sequential {
	seq := nn.NewSequential(layers...)
	seq.NeedInputGrad = false
	seq.SetTraining(false)
	return seq
}

// samePad is TF's SAME zero padding before a stride-2 convolution with a
// square kernel: the total padding (out-1)*2 + kernel - in, with
// out = ceil(in/2), split with the odd one at the bottom or right. At 512
// every map the net pads is even (one row and column at the bottom and
// right) down to 2x2; a smaller input (the tests') needs the general rule.
type samePad struct {
	nn.Base
	kernel int
	pad    *nn.ConstantPad2d // for the last input size
}

func (l *samePad) String() string {
	return fmt.Sprintf("SamePad2d(kernel_size=%d, stride=2)", l.kernel)
}

// amounts is the padding before and after along a side of n values.
func (l *samePad) amounts(n int) (before, after int) {
	total := max(((n+1)/2-1)*2+l.kernel-n, 0)
	return total / 2, total - total/2
}

// OutputShape implements nn.Layer.
func (l *samePad) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[2] < 1 || in[3] < 1 {
		return nil, &nn.ShapeError{Layer: l.String(), Got: append([]int(nil), in...), Expected: "[N, C, H, W]"}
	}
	t, b := l.amounts(in[2])
	le, r := l.amounts(in[3])
	return []int{in[0], in[1], in[2] + t + b, in[3] + le + r}, nil
}

// Forward implements nn.Layer.
func (l *samePad) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if _, err := l.OutputShape(x.Shape); err != nil {
		return nil, err
	}
	t, b := l.amounts(x.Shape[2])
	le, r := l.amounts(x.Shape[3])
	if p := l.pad; p == nil || p.Left != le || p.Right != r || p.Top != t || p.Bottom != b {
		l.pad = nn.NewConstantPad2d(le, r, t, b, 0)
		l.pad.SetTraining(false)
	}
	return l.pad.Forward(x)
}

// Backward implements nn.Layer; the detector only runs forward.
func (*samePad) Backward(*tensor.Tensor) (*tensor.Tensor, error) {
	return nil, errors.New("SSD detector: padding runs forward only")
}
