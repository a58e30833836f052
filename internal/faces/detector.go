package faces

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// The tiny face detector is face-api's TinyFaceDetector: tiny YOLOv2 with
// depthwise-separable convolutions, one class, five anchors. Every fact
// below comes from its TypeScript (tinyFaceDetector/, tinyYolov2/,
// dom/NetInput.ts, ops/nonMaxSuppression.ts):
//
//   - input: the photo padded with zeros at the bottom or right to a square
//     (NetInput.toBatchTensor with isCenterInputs false), resized to
//     size x size, then (p - mean) / 255 (forwardInput divides by 255);
//   - conv0: a plain 3x3 convolution with VALID padding (no padding at
//     all), plus bias, then leaky ReLU with slope 0.1;
//   - five times: max pool 2x2 stride 2 SAME, then a separable block:
//     zero pad 1 on every side, depthwise 3x3, pointwise 1x1, plus bias,
//     leaky ReLU; then max pool 2x2 stride 1 SAME;
//   - conv8: 1x1 to 25 channels, plus bias, no activation.
//
// The 7-entry filter list (3, 16, ... 512) means conv6 and conv7 do not
// exist. TF's SAME pooling pads only at the bottom and right, and pooling
// ignores the padding, so here a -Inf ConstantPad2d feeds a padding-free
// MaxPool2d wherever TF pads.

// detectorManifest names the detector's weights under a models folder.
const detectorManifest = TinyFaceDetector

// DetectorIoU is face-api's NMS threshold for the tiny face detector: a box
// whose IoU with a better one exceeds it is dropped.
const DetectorIoU = 0.4

// DefaultSizes is the fallback order for DetectFallback: 320 first, then
// 416 (face-api's default) and the larger sizes only for photos the
// smaller ones find nothing in. On the 1,370 photos of celebrity17
// (TestDetectCoverage) 320 alone finds a face in 1,284 and 416 alone in
// 1,286; any fallback order over the four sizes finds one in 1,367, as many
// as running all four on every photo (DetectMulti) at 5.6 times the time.
// Starting at 320 rather than 416 cut the whole pipeline from 41-44 to
// 27-33 ms per photo (bench --faces, same run) with test accuracy within
// one photo (docs/EXPERIMENTS.md).
var DefaultSizes = []int{320, 416, 512, 608}

// MaxDetectorSize bounds the input size: the first activation of a size-S
// input holds 16*(S-2)^2 floats (67 MB at 1024), twice over in the net's
// buffers, per concurrent call.
const MaxDetectorSize = 1024

// detMean is MEAN_RGB of tinyFaceDetector/const.ts.
var detMean = [3]float32{117.001, 114.697, 97.404}

// detAnchors are BOX_ANCHORS (width, height in cells) of
// tinyFaceDetector/const.ts.
var detAnchors = [5][2]float64{
	{1.603231, 2.094468},
	{6.041143, 7.080126},
	{2.882459, 3.518061},
	{4.266906, 5.178857},
	{9.041765, 10.66308},
}

// leakySlope is the float32 constant face-api's leaky() multiplies by.
const leakySlope = 0.1

// detChannels are the output channels of conv0..conv5 (filterSizes without
// the 3 input channels).
var detChannels = [6]int{16, 32, 64, 128, 256, 512}

// detOutputs is conv8's output: per anchor tx, ty, tw, th and objectness.
const detOutputs = 5 * len(detAnchors)

// Detector finds faces with face-api's tiny face detector. It is safe for
// concurrent use: each call borrows a private copy of the network's layers
// (they own their activation buffers) from a pool of at most GOMAXPROCS
// copies, all sharing the read-only weights. A call that finds every copy
// busy waits for one; more copies would not help, since one call already
// keeps every core busy, and each copy holds tens of MB of activations.
type Detector struct {
	// NCHW weights, converted once from the TF layouts.
	conv0W, conv0B *tensor.Tensor
	dw, pw, pb     [5]*tensor.Tensor
	conv8W, conv8B *tensor.Tensor

	nets netPool[*detNet]
}

// detNet is one private copy of the network and its input buffer.
type detNet struct {
	seq *nn.Sequential
	in  *tensor.Tensor
}

// LoadDetector reads the tiny face detector's weights from modelDir, the
// folder holding model/ (see ModelDir).
func LoadDetector(modelDir string) (*Detector, error) {
	return loadNet(modelDir, detectorManifest, NewDetector)
}

// detectorSpecs lists every tensor in the order of face-api's manifest.
func detectorSpecs() []tensorSpec {
	s := []tensorSpec{
		{"conv0/filters", []int{3, 3, 3, detChannels[0]}},
		{"conv0/bias", []int{detChannels[0]}},
	}
	for i := 1; i <= 5; i++ {
		in, out := detChannels[i-1], detChannels[i]
		s = append(s, sepConvSpecs(fmt.Sprintf("conv%d/", i), in, out)...)
	}
	return append(s,
		tensorSpec{"conv8/filters", []int{1, 1, detChannels[5], detOutputs}},
		tensorSpec{"conv8/bias", []int{detOutputs}})
}

// NewDetector checks that w holds every tensor of the tiny face detector
// with its exact shape (extra tensors are ignored, as face-api ignores
// them) and converts the filters to the engine's layouts.
func NewDetector(w *Weights) (*Detector, error) {
	get, err := w.pick("tiny face detector", detectorManifest, detectorSpecs())
	if err != nil {
		return nil, err
	}
	d := &Detector{
		conv0W: hwioToOIHW(get["conv0/filters"]),
		conv0B: get["conv0/bias"].Clone(),
		conv8W: hwioToOIHW(get["conv8/filters"]),
		conv8B: get["conv8/bias"].Clone(),
	}
	for i := range 5 {
		d.dw[i], d.pw[i], d.pb[i] = sepConvWeights(get, fmt.Sprintf("conv%d/", i+1))
	}
	d.nets = newNetPool(d.newNet)
	return d, nil
}

// hwioToOIHW turns a TF convolution filter [K, K, In, Out] into Conv2d's
// [Out, In, K, K].
func hwioToOIHW(t *tensor.Tensor) *tensor.Tensor {
	kh, kw, in, out := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	r := tensor.New(out, in, kh, kw)
	for y := range kh {
		for x := range kw {
			for i := range in {
				src := t.Data[((y*kw+x)*in+i)*out:]
				for o := range out {
					r.Data[((o*in+i)*kh+y)*kw+x] = src[o]
				}
			}
		}
	}
	return r
}

// depthwiseToC1HW turns a TF depthwise filter [K, K, C, 1] into the
// PyTorch groups=C layout [C, 1, K, K].
func depthwiseToC1HW(t *tensor.Tensor) *tensor.Tensor {
	kh, kw, c := t.Shape[0], t.Shape[1], t.Shape[2]
	r := tensor.New(c, 1, kh, kw)
	for y := range kh {
		for x := range kw {
			for ch := range c {
				r.Data[(ch*kh+y)*kw+x] = t.Data[(y*kw+x)*c+ch]
			}
		}
	}
	return r
}

// sepConvSpecs are the tensors of face-api's separable convolution
// (common/depthwiseSeparableConv.ts) under prefix, in channels to out: a
// 3x3 depthwise filter, a 1x1 pointwise one and a bias. The tiny detector
// and the landmark net both use it.
func sepConvSpecs(prefix string, in, out int) []tensorSpec {
	return []tensorSpec{
		{prefix + "depthwise_filter", []int{3, 3, in, 1}},
		{prefix + "pointwise_filter", []int{1, 1, in, out}},
		{prefix + "bias", []int{out}},
	}
}

// sepConvWeights converts the tensors of sepConvSpecs to the engine's
// layouts: the depthwise filter [C, 1, 3, 3], the pointwise one
// [Out, In, 1, 1], and a copy of the bias.
func sepConvWeights(get map[string]*tensor.Tensor, prefix string) (dw, pw, pb *tensor.Tensor) {
	return depthwiseToC1HW(get[prefix+"depthwise_filter"]), hwioToOIHW(get[prefix+"pointwise_filter"]),
		get[prefix+"bias"].Clone()
}

// newNet builds a private copy of the network whose parameters point at the
// detector's shared weights (layers only read them in Forward).
func (d *Detector) newNet() *detNet {
	rng := rand.New(rand.NewPCG(1, 2)) // the initial values are replaced at once
	negInf := float32(math.Inf(-1))
	layers := []nn.Layer{&convPool{weight: d.conv0W, bias: d.conv0B}}
	for i := range 5 {
		// TF applies leaky ReLU and then pools. Leaky ReLU is
		// non-decreasing, so it commutes exactly with max pooling, and
		// after the pooling it touches 1.4M values instead of 5.4M at
		// 416.
		//
		// For sizes that are multiples of 32 the pooled maps are 32k-2
		// (even: no padding), then 16k-1 (odd: TF pads one row and
		// column), then 8k, 4k and 2k (even), so only the second
		// pooling needs a pad.
		switch i {
		case 0: // convPool has pooled and applied the leaky ReLU
		case 1:
			layers = append(layers, &samePool{pool: nn.NewMaxPool2d(2, 2, 0)},
				nn.NewLeakyReLU(leakySlope, true))
		default:
			layers = append(layers, nn.NewMaxPool2d(2, 2, 0), nn.NewLeakyReLU(leakySlope, true))
		}
		in, out := detChannels[i], detChannels[i+1]
		dw := nn.NewDepthwiseConv2d(in, 3, 1, 1, false, rng)
		dw.Weight.Value = d.dw[i]
		pw := nn.NewConv2d(in, out, 1, 1, 0, true, rng)
		pw.Weight.Value, pw.Bias.Value = d.pw[i], d.pb[i]
		layers = append(layers, dw, pw)
	}
	conv8 := nn.NewConv2d(detChannels[5], detOutputs, 1, 1, 0, true, rng)
	conv8.Weight.Value, conv8.Bias.Value = d.conv8W, d.conv8B
	layers = append(layers,
		nn.NewConstantPad2d(0, 1, 0, 1, negInf), nn.NewMaxPool2d(2, 1, 0), nn.NewLeakyReLU(leakySlope, true),
		conv8)
	seq := nn.NewSequential(layers...)
	seq.NeedInputGrad = false
	seq.SetTraining(false)
	return &detNet{seq: seq}
}

// convPool is conv0 (3x3, VALID, 3 to 16 channels, plus bias) followed by
// the first 2x2 stride-2 max pool and the leaky ReLU, run one pooled row
// at a time: each worker convolves the four input rows behind two
// convolution rows, pools them and applies the activation while they are
// in its cache (as a layer of its own the activation was one more pass
// over the 1.6 MB map at 320, 0.37 ms). Run as two layers, the
// convolution's 11 MB output at 416 (16 x 414 x 414) went to memory and
// came back for the pooling, and filling it with the bias before the GEMM
// was a fifth of the detector's time. The GEMM calls are those nn.Conv2d
// makes on the whole input (it cuts a 414-wide map into bands of two rows
// too), so the result is the same.
type convPool struct {
	nn.Base
	weight, bias *tensor.Tensor // [16, 3, 3, 3] and [16], shared
	workers      []convPoolWorker
	out          *tensor.Tensor
}

// convPoolWorker is one worker's layers and input band.
type convPoolWorker struct {
	conv *nn.Conv2d
	pool *nn.MaxPool2d
	in   *tensor.Tensor
	err  error
}

func (l *convPool) String() string {
	return "Conv2dMaxPool2dLeakyReLU(3, 16, kernel_size=3; kernel_size=2, stride=2; 0.1)"
}

// OutputShape implements nn.Layer.
func (l *convPool) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] != 1 || in[1] != 3 || in[2] < 4 || in[3] < 4 {
		return nil, &nn.ShapeError{Layer: l.String(), Got: append([]int(nil), in...),
			Expected: "[1, 3, H, W] with H and W at least 4"}
	}
	c := l.weight.Shape[0]
	return []int{1, c, (in[2] - 2) / 2, (in[3] - 2) / 2}, nil
}

// Backward implements nn.Layer; the detector only runs forward.
func (l *convPool) Backward(*tensor.Tensor) (*tensor.Tensor, error) {
	return nil, errors.New("tiny face detector: conv0 runs forward only")
}

// Forward implements nn.Layer.
func (l *convPool) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := l.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	if n := tensor.Workers(); len(l.workers) < n {
		rng := rand.New(rand.NewPCG(1, 2)) // the initial values are replaced at once
		for len(l.workers) < n {
			conv := nn.NewConv2d(3, shape[1], 3, 1, 0, true, rng)
			conv.Weight.Value, conv.Bias.Value = l.weight, l.bias
			conv.SetTraining(false)
			conv.SetNeedInputGrad(false)
			pool := nn.NewMaxPool2d(2, 2, 0)
			pool.SetTraining(false)
			l.workers = append(l.workers, convPoolWorker{conv: conv, pool: pool})
		}
	}
	h, w := x.Shape[2], x.Shape[3]
	c, ph, pw := shape[1], shape[2], shape[3]
	l.out = tensor.Reuse(l.out, shape...)
	out := l.out
	for i := range l.workers {
		l.workers[i].err = nil
	}
	tensor.ForEach(ph, func(worker, r int) {
		k := &l.workers[worker]
		if k.err != nil {
			return
		}
		// Pooled row r needs convolution rows 2r and 2r+1, which read
		// input rows 2r to 2r+3.
		k.in = tensor.Reuse(k.in, 1, 3, 4, w)
		for ch := range 3 {
			copy(k.in.Data[ch*4*w:(ch+1)*4*w], x.Data[(ch*h+2*r)*w:(ch*h+2*r+4)*w])
		}
		y, err := k.conv.Forward(k.in)
		if err == nil {
			y, err = k.pool.Forward(y)
		}
		if err != nil {
			k.err = err
			return
		}
		for ch := range c {
			leakyRow(out.Data[(ch*ph+r)*pw:(ch*ph+r+1)*pw], y.Data[ch*pw:(ch+1)*pw])
		}
	})
	for i := range l.workers {
		if err := l.workers[i].err; err != nil {
			return nil, err
		}
	}
	return out, nil
}

// leakyRow sets dst = leaky ReLU of src with leakySlope, computed as
// nn.LeakyReLU does (v times 1 or the slope, chosen without a branch: the
// signs of a convolution's outputs are close to random), so the values
// are the same bits.
func leakyRow(dst, src []float32) {
	src = src[:len(dst)]
	one, slope := math.Float32bits(1), math.Float32bits(leakySlope)
	for i, v := range src {
		f := slope
		if v > 0 {
			f = one
		}
		dst[i] = v * math.Float32frombits(f)
	}
}

// samePool is TF's 2x2 stride-2 SAME max pool, which on an odd map pads
// one -Inf row and column at the bottom and right: nn.MaxPool2d pools the
// even part and the windows that would reach into the padding are taken
// over the one row or column they hold. A -Inf ConstantPad2d before the
// pool gives the same values, but copies the whole 32x207x207 map (5.5 MB
// at 416) to add one row and column.
type samePool struct {
	nn.Base
	pool *nn.MaxPool2d // 2x2 stride 2, evaluation
	out  *tensor.Tensor
}

func (l *samePool) String() string { return "MaxPool2dSame(kernel_size=2, stride=2)" }

// OutputShape implements nn.Layer.
func (l *samePool) OutputShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] < 1 || in[2] < 1 || in[3] < 1 {
		return nil, &nn.ShapeError{Layer: l.String(), Got: append([]int(nil), in...), Expected: "[N, C, H, W]"}
	}
	return []int{in[0], in[1], (in[2] + 1) / 2, (in[3] + 1) / 2}, nil
}

// Backward implements nn.Layer; the detector only runs forward.
func (l *samePool) Backward(*tensor.Tensor) (*tensor.Tensor, error) {
	return nil, errors.New("tiny face detector: pooling runs forward only")
}

// Forward implements nn.Layer.
func (l *samePool) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := l.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	h, w := x.Shape[2], x.Shape[3]
	ho, wo := shape[2], shape[3]
	eh, ew := h/2, w/2 // the windows inside the map
	var even *tensor.Tensor
	if eh > 0 && ew > 0 {
		l.pool.SetTraining(false)
		if even, err = l.pool.Forward(x); err != nil {
			return nil, err
		}
	}
	l.out = tensor.Reuse(l.out, shape...)
	out := l.out
	tensor.ParallelMin(shape[0]*shape[1], 8, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x.Data[p*h*w : (p+1)*h*w]
			dst := out.Data[p*ho*wo : (p+1)*ho*wo]
			for oy := range eh {
				row := dst[oy*wo : (oy+1)*wo]
				if even != nil {
					copy(row, even.Data[(p*eh+oy)*ew:(p*eh+oy+1)*ew])
				}
				if wo > ew { // the last column's windows are one wide
					row[ew] = max(src[2*oy*w+w-1], src[(2*oy+1)*w+w-1])
				}
			}
			if ho > eh { // the last row's windows are one tall
				last := src[(h-1)*w : h*w]
				row := dst[eh*wo : (eh+1)*wo]
				for ox := range ew {
					row[ox] = max(last[2*ox], last[2*ox+1])
				}
				if wo > ew {
					row[ew] = last[w-1]
				}
			}
		}
	})
	return out, nil
}

// checkSize validates a detector input size the way face-api's
// TinyYolov2Options does (a multiple of 32), within MaxDetectorSize.
func checkSize(size int) error {
	if size < 32 || size%32 != 0 || size > MaxDetectorSize {
		return fmt.Errorf("tiny face detector: input size %d must be a multiple of 32 from 32 to %d", size, MaxDetectorSize)
	}
	return nil
}

func checkImage(img *Image) error {
	if img == nil || img.W < 1 || img.H < 1 || len(img.Pix) != 3*img.W*img.H {
		if img == nil {
			return errors.New("tiny face detector: no image")
		}
		return fmt.Errorf("tiny face detector: image %dx%d with %d values is not a valid RGB image", img.W, img.H, len(img.Pix))
	}
	return nil
}

// Raw runs the network at one input size and returns a copy of conv8's
// output, [1, 25, size/32, size/32] (channel = anchor*5 + one of tx, ty, tw,
// th, objectness). It is what the golden tests compare with TF.js.
func (d *Detector) Raw(img *Image, size int) (*tensor.Tensor, error) {
	var out *tensor.Tensor
	err := d.run(img, size, func(t *tensor.Tensor) { out = t.Clone() })
	return out, err
}

// run prepares the input, runs a borrowed copy of the net and hands conv8's
// output to use before the copy goes back to the pool.
func (d *Detector) run(img *Image, size int, use func(*tensor.Tensor)) error {
	if err := checkImage(img); err != nil {
		return err
	}
	if err := checkSize(size); err != nil {
		return err
	}
	net := d.nets.acquire()
	defer d.nets.release(net)
	net.in = img.NetInput(net.in, size, false, detMean, 255)
	out, err := net.seq.Forward(net.in)
	if err != nil {
		return fmt.Errorf("tiny face detector: %w", err)
	}
	use(out)
	return nil
}

// Detect finds the faces in img at one input size: every box whose score
// exceeds minScore (strictly, as face-api), after non-maximum suppression
// at DetectorIoU, best first, in image pixels (boxes may reach past the
// image's edges; see Image.ClipBox). A photo without faces gives an empty
// slice.
func (d *Detector) Detect(img *Image, size int, minScore float64) ([]Detection, error) {
	var cands []Detection
	err := d.run(img, size, func(out *tensor.Tensor) { cands = decode(out, img.W, img.H, size, minScore) })
	if err != nil {
		return nil, err
	}
	return NMS(cands, DetectorIoU), nil
}

// checkSizes refuses an empty list of input sizes or a bad size in it
// before any net runs, so a caller never gets the faces of some sizes and
// the error of another.
func checkSizes(sizes []int) error {
	if len(sizes) == 0 {
		return errors.New("tiny face detector: no input sizes")
	}
	for _, s := range sizes {
		if err := checkSize(s); err != nil {
			return err
		}
	}
	return nil
}

// DetectMulti runs Detect at each size and merges the results with
// non-maximum suppression, so that a face seen at several scales keeps its
// best-scoring box.
func (d *Detector) DetectMulti(img *Image, sizes []int, minScore float64) ([]Detection, error) {
	if err := checkSizes(sizes); err != nil {
		return nil, err
	}
	var all []Detection
	for _, s := range sizes {
		dets, err := d.Detect(img, s, minScore)
		if err != nil {
			return nil, err
		}
		all = append(all, dets...)
	}
	return NMS(all, DetectorIoU), nil
}

// DetectFallback runs Detect at each size in order and returns the first
// non-empty result: most photos are settled by the first size, and the
// rest get other scales. A photo no size finds a face in gives an empty
// slice.
func (d *Detector) DetectFallback(img *Image, sizes []int, minScore float64) ([]Detection, error) {
	if err := checkSizes(sizes); err != nil {
		return nil, err
	}
	var dets []Detection
	for _, s := range sizes {
		var err error
		if dets, err = d.Detect(img, s, minScore); err != nil || len(dets) > 0 {
			return dets, err
		}
	}
	return dets, nil
}

// decode is face-api's TinyYolov2Base.extractBoxes followed by the mapping
// to image pixels (ObjectDetection's rescale by the image size), in float64
// as the JavaScript computes. The net sees the photo scaled so its longer
// side is size, with the padding at the bottom/right; face-api expresses a
// box relative to the scaled photo's rounded width and height, then
// multiplies by the photo's own.
//
// Candidates are returned in reverse scan order (row, column, anchor from
// the last): face-api sorts ascending and pops the best, so among equal
// scores it takes the last one scanned, and NMS's stable descending sort
// reproduces that from the reversed list.
func decode(out *tensor.Tensor, w, h, size int, minScore float64) []Detection {
	cells := out.Shape[2]
	plane := cells * cells
	scale := float64(size) / float64(max(w, h))
	rw, rh := math.Round(float64(w)*scale), math.Round(float64(h)*scale)
	// A side so thin it rounds to 0 pixels would divide by zero in
	// face-api; the unrounded scale is the limit of the same mapping.
	fx, fy := float64(w)/rw, float64(h)/rh
	if rw < 1 {
		fx = 1 / scale
	}
	if rh < 1 {
		fy = 1 / scale
	}
	fx *= float64(size) / float64(cells)
	fy *= float64(size) / float64(cells)
	var dets []Detection
	for row := cells - 1; row >= 0; row-- {
		for col := cells - 1; col >= 0; col-- {
			for a := len(detAnchors) - 1; a >= 0; a-- {
				at := func(k int) float64 { return float64(out.Data[(a*5+k)*plane+row*cells+col]) }
				score := sigmoid(at(4))
				if !(score > minScore) {
					continue
				}
				cx := (float64(col) + sigmoid(at(0))) * fx
				cy := (float64(row) + sigmoid(at(1))) * fy
				bw := math.Exp(at(2)) * detAnchors[a][0] * fx
				bh := math.Exp(at(3)) * detAnchors[a][1] * fy
				dets = append(dets, Detection{
					Box:   Box{X: cx - bw/2, Y: cy - bh/2, W: bw, H: bh},
					Score: score,
					Size:  size,
				})
			}
		}
	}
	return dets
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
