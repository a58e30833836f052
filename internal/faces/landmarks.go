package faces

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// The landmark net is face-api's FaceLandmark68Net: the FaceFeatureExtractor
// (four dense blocks) followed by one fully connected layer. Every fact
// below comes from its TypeScript (faceLandmarkNet/, faceFeatureExtractor/,
// faceProcessor/, common/depthwiseSeparableConv.ts, dom/NetInput.ts):
//
//   - input: the face crop zero-padded to a centred square
//     (toBatchTensor(112, true)), resized to 112x112, then
//     (p - mean) / 255 with mean 122.782, 117.001, 104.298;
//   - dense block (32, 64, 128 and 256 channels): o1 = ReLU(conv0(x)) where
//     conv0 has stride 2 (a plain 3x3 convolution plus bias in the first
//     block, a separable one after); o2 = sep(o1); o3 = sep(ReLU(o1+o2));
//     o4 = sep(ReLU(o1+(o2+o3))); out = ReLU(o1+(o2+(o3+o4))). A separable
//     convolution is depthwise 3x3, pointwise 1x1, plus bias, all 'SAME';
//   - average pool 7x7 stride 2 VALID (7x7 -> 1x1), then fc: x·W + b with W
//     [256, 136];
//   - the 136 outputs are x0, y0, x1, y1, ... relative to the padded square.
//
// TF's SAME padding with stride 2 on the even maps here (112, 56, 28, 14)
// adds nothing at the top and left and one row and column at the bottom and
// right; a zero ConstantPad2d then an unpadded convolution reproduces it.
// With stride 1 a 3x3 SAME convolution pads 1 on every side, which the
// layers' symmetric padding does directly.

// LandmarkInputSize is the side of the landmark net's square input.
const LandmarkInputSize = 112

// NumLandmarks is how many points the net returns (iBUG 300-W order).
const NumLandmarks = 68

// lmMean is the meanRgb of FaceFeatureExtractor.forwardInput; lmDiv its
// divisor (255 here, where the recognition net divides by 256).
var lmMean = [3]float32{122.782, 117.001, 104.298}

const lmDiv = 255

// lmChannels are the dense blocks' widths, after the 3 input channels.
var lmChannels = [4]int{32, 64, 128, 256}

// lmOutputs is fc's width: an x and a y per landmark.
const lmOutputs = 2 * NumLandmarks

// Landmarker finds the 68 face landmarks with face-api's full landmark net
// (face_landmark_68_model). It is safe for concurrent use: each call
// borrows a private copy of the network's layers (they own their
// activation buffers, about 5 MB) from a pool of at most GOMAXPROCS copies,
// all sharing the read-only weights; a call that finds every copy busy
// waits for one.
type Landmarker struct {
	conv0W, conv0B *tensor.Tensor       // dense0/conv0, [32, 3, 3, 3]
	dw, pw, pb     [4][4]*tensor.Tensor // [block][conv]; dense0/conv0 unused
	fcW, fcB       *tensor.Tensor       // [136, 256] (nn.Linear's layout), [136]

	nets netPool[*lmNet]
}

// LoadLandmarker reads the landmark net's weights from modelDir, the folder
// holding model/ (see ModelDir).
func LoadLandmarker(modelDir string) (*Landmarker, error) {
	return loadNet(modelDir, FaceLandmark68, NewLandmarker)
}

// landmarkSpecs lists every tensor of the net in face-api's manifest order.
func landmarkSpecs() []tensorSpec {
	s := []tensorSpec{
		{"dense0/conv0/filters", []int{3, 3, 3, lmChannels[0]}},
		{"dense0/conv0/bias", []int{lmChannels[0]}},
	}
	in := lmChannels[0]
	for b, out := range lmChannels {
		for c := range 4 {
			if b == 0 && c == 0 {
				continue
			}
			s = append(s, sepConvSpecs(fmt.Sprintf("dense%d/conv%d/", b, c), in, out)...)
			in = out
		}
	}
	return append(s,
		tensorSpec{"fc/weights", []int{lmChannels[3], lmOutputs}},
		tensorSpec{"fc/bias", []int{lmOutputs}})
}

// NewLandmarker checks that w holds every tensor of face_landmark_68_model
// with its exact shape (extra tensors are ignored, as face-api ignores
// them) and converts the filters to the engine's layouts.
func NewLandmarker(w *Weights) (*Landmarker, error) {
	get, err := w.pick("landmark net", FaceLandmark68, landmarkSpecs())
	if err != nil {
		return nil, err
	}
	l := &Landmarker{
		conv0W: hwioToOIHW(get["dense0/conv0/filters"]),
		conv0B: get["dense0/conv0/bias"].Clone(),
	}
	for b := range lmChannels {
		for c := range 4 {
			if b == 0 && c == 0 {
				continue
			}
			l.dw[b][c], l.pw[b][c], l.pb[b][c] = sepConvWeights(get, fmt.Sprintf("dense%d/conv%d/", b, c))
		}
	}
	// TF multiplies x [1, 256] by W [256, 136]; nn.Linear computes x·Wᵀ
	// with W [136, 256].
	fw := get["fc/weights"]
	in, out := fw.Shape[0], fw.Shape[1]
	l.fcW = tensor.New(out, in)
	for i := range in {
		for o := range out {
			l.fcW.Data[o*in+i] = fw.Data[i*out+o]
		}
	}
	l.fcB = get["fc/bias"].Clone()
	l.nets = newNetPool(l.newNet)
	return l, nil
}

// sepConv is TF's separableConv2d plus bias: an optional SAME pad for
// stride 2, the depthwise 3x3 and the pointwise 1x1 with the bias.
type sepConv struct {
	pad *nn.ConstantPad2d // nil for stride 1, where the depthwise pads itself
	dw  *nn.DepthwiseConv2d
	pw  *nn.Conv2d
}

func (s *sepConv) forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	var err error
	if s.pad != nil {
		if x, err = s.pad.Forward(x); err != nil {
			return nil, err
		}
	}
	if x, err = s.dw.Forward(x); err != nil {
		return nil, err
	}
	return s.pw.Forward(x)
}

// lmBlock is one dense block. conv0 is either first (the plain convolution
// of dense0, behind pad0) or sep[0].
type lmBlock struct {
	pad0  *nn.ConstantPad2d
	first *nn.Conv2d
	sep   [4]*sepConv
	relu  *nn.ReLU
	// in3, in4 and out are the block's own sums; out is its result.
	in3, in4, out *tensor.Tensor
}

// forward runs the block. Each layer owns its output, so o1..o4 stay valid
// until the block's next run and the sums can read all four.
func (b *lmBlock) forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	var o1 *tensor.Tensor
	var err error
	if b.first != nil {
		if x, err = b.pad0.Forward(x); err != nil {
			return nil, err
		}
		o1, err = b.first.Forward(x)
	} else {
		o1, err = b.sep[0].forward(x)
	}
	if err != nil {
		return nil, err
	}
	if o1, err = b.relu.Forward(o1); err != nil {
		return nil, err
	}
	o2, err := b.sep[1].forward(o1)
	if err != nil {
		return nil, err
	}
	// The sums keep TF's association (out1 + (out2 + (out3 + out4))), so
	// the rounding is the same as face-api's.
	b.in3 = tensor.Reuse(b.in3, o1.Shape...)
	reluSum(b.in3.Data, o1.Data, o2.Data, nil, nil)
	o3, err := b.sep[2].forward(b.in3)
	if err != nil {
		return nil, err
	}
	b.in4 = tensor.Reuse(b.in4, o1.Shape...)
	reluSum(b.in4.Data, o1.Data, o2.Data, o3.Data, nil)
	o4, err := b.sep[3].forward(b.in4)
	if err != nil {
		return nil, err
	}
	b.out = tensor.Reuse(b.out, o1.Shape...)
	reluSum(b.out.Data, o1.Data, o2.Data, o3.Data, o4.Data)
	return b.out, nil
}

// reluSum sets dst = ReLU(a + (b + (c + d))), where c and d may be nil
// (then ReLU(a + b) or ReLU(a + (b + c))), in TF's order of additions.
// The first block's sums (100k values) are split across the workers.
func reluSum(dst, a, b, c, d []float32) {
	tensor.ParallelMin(len(dst), 32768, func(lo, hi int) {
		var cs, ds []float32
		if c != nil {
			cs = c[lo:hi]
		}
		if d != nil {
			ds = d[lo:hi]
		}
		reluSumRange(dst[lo:hi], a[lo:hi], b[lo:hi], cs, ds)
	})
}

// reluSumRange is reluSum on one range. Every slice is cut to len(dst)
// first so the loops run without bounds checks; on AVX2 an assembly
// kernel with the same additions and ReLU does all but the last len%8
// values (eight times as fast: these sums were 12% of the landmark net).
func reluSumRange(dst, a, b, c, d []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	if c != nil {
		c = c[:n]
	}
	if d != nil {
		d = d[:n]
	}
	if done := reluSumVector(dst, a, b, c, d); done > 0 {
		dst, a, b = dst[done:], a[done:], b[done:]
		if c != nil {
			c = c[done:]
		}
		if d != nil {
			d = d[done:]
		}
		n -= done
	}
	switch {
	case c == nil:
		for i := range n {
			dst[i] = relu(a[i] + b[i])
		}
	case d == nil:
		c = c[:n]
		for i := range n {
			dst[i] = relu(a[i] + (b[i] + c[i]))
		}
	default:
		c, d = c[:n], d[:n]
		for i := range n {
			dst[i] = relu(a[i] + (b[i] + (c[i] + d[i])))
		}
	}
}

// relu is max(v, 0). The builtin compiles to branch-free code (MINSS and
// bit operations on amd64); a compare-and-branch mispredicts on about half
// of these sums, whose signs look random, and cost five times as much. It
// differs from TF's relu only in giving +0 for -0, which no later sum or
// product can tell apart.
func relu(v float32) float32 { return max(v, 0) }

// lmNet is one private copy of the network and its input buffer.
type lmNet struct {
	blocks [4]lmBlock
	pool   *nn.AvgPool2d
	fc     *nn.Linear
	in     *tensor.Tensor
	crop   Image // Landmarks' face crop
}

// newNet builds a copy of the network whose parameters point at the shared
// weights (layers only read them in Forward).
func (l *Landmarker) newNet() *lmNet {
	rng := rand.New(rand.NewPCG(1, 2)) // the initial values are replaced at once
	n := &lmNet{pool: nn.NewAvgPool2d(7, 2, 0), fc: nn.NewLinear(lmChannels[3], lmOutputs, true, rng)}
	n.fc.Weight.Value, n.fc.Bias.Value = l.fcW, l.fcB
	in := 3
	for b, out := range lmChannels {
		blk := &n.blocks[b]
		blk.relu = nn.NewReLU(true)
		if b == 0 {
			blk.pad0 = nn.NewConstantPad2d(0, 1, 0, 1, 0)
			blk.first = nn.NewConv2d(in, out, 3, 2, 0, true, rng)
			blk.first.Weight.Value, blk.first.Bias.Value = l.conv0W, l.conv0B
			in = out
		}
		for c := range 4 {
			if b == 0 && c == 0 {
				continue
			}
			s := &sepConv{}
			stride, pad := 1, 1
			if c == 0 {
				s.pad = nn.NewConstantPad2d(0, 1, 0, 1, 0)
				stride, pad = 2, 0
			}
			s.dw = nn.NewDepthwiseConv2d(in, 3, stride, pad, false, rng)
			s.dw.Weight.Value = l.dw[b][c]
			s.pw = nn.NewConv2d(in, out, 1, 1, 0, true, rng)
			s.pw.Weight.Value, s.pw.Bias.Value = l.pw[b][c], l.pb[b][c]
			blk.sep[c] = s
			in = out
		}
	}
	for _, layer := range n.layers() {
		layer.SetTraining(false)
	}
	return n
}

// layers lists every layer of the copy, for switching modes.
func (n *lmNet) layers() []nn.Layer {
	ls := []nn.Layer{n.pool, n.fc}
	for i := range n.blocks {
		b := &n.blocks[i]
		ls = append(ls, b.relu)
		if b.first != nil {
			ls = append(ls, b.pad0, b.first)
		}
		for _, s := range b.sep {
			if s == nil {
				continue
			}
			if s.pad != nil {
				ls = append(ls, s.pad)
			}
			ls = append(ls, s.dw, s.pw)
		}
	}
	return ls
}

// forward runs the net on a prepared input and returns fc's output, owned
// by the copy.
func (n *lmNet) forward(x *tensor.Tensor) ([]float32, error) {
	var err error
	for i := range n.blocks {
		if x, err = n.blocks[i].forward(x); err != nil {
			return nil, fmt.Errorf("landmark net: dense%d: %w", i, err)
		}
	}
	if x, err = n.pool.Forward(x); err != nil {
		return nil, fmt.Errorf("landmark net: %w", err)
	}
	flat, err := x.Reshape(1, lmChannels[3])
	if err != nil {
		return nil, fmt.Errorf("landmark net: %w", err)
	}
	y, err := n.fc.Forward(flat)
	if err != nil {
		return nil, fmt.Errorf("landmark net: %w", err)
	}
	return y.Data, nil
}

// Raw runs the net on a prepared [1, 3, 112, 112] input (see
// Image.NetInput) and returns a copy of its 136 outputs: x0, y0, x1, y1, ...
// as fractions of the padded square's side. The golden tests compare it
// with TF.js.
func (l *Landmarker) Raw(x *tensor.Tensor) ([]float32, error) {
	want := []int{1, 3, LandmarkInputSize, LandmarkInputSize}
	if x == nil || !tensor.ShapeEq(x.Shape, want) || len(x.Data) != tensor.Numel(want) {
		got := "nil"
		if x != nil {
			got = tensor.ShapeString(x.Shape)
		}
		return nil, fmt.Errorf("landmark net: input shape %s, want %s", got, tensor.ShapeString(want))
	}
	net := l.nets.acquire()
	defer l.nets.release(net)
	out, err := net.forward(x)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), out...), nil
}

// Landmarks returns the 68 landmarks of the face in box, in image pixels,
// computed as face-api computes them for a detection: the box is clipped to
// the image and floored to whole pixels (Image.ClipBox), that crop is
// padded to a centred square and resized to 112x112, and the net's
// outputs are mapped back to the crop (see cropLandmarks), then to the
// image by adding the crop's top-left corner.
//
// face-api adds the detection box's own corner instead (extendWithFaceLandmarks
// shifts by detection.box.x, y), which is the crop's corner only for a box
// on whole pixels inside the image: it puts every point up to a pixel too
// far left and up, and a face cut by the top or left edge off by as much as
// the box overhangs. Here the points are where the net saw them.
func (l *Landmarker) Landmarks(img *Image, box Box) ([]Point, error) {
	if img == nil || img.W < 1 || img.H < 1 || len(img.Pix) != 3*img.W*img.H {
		return nil, errors.New("landmark net: not a valid RGB image")
	}
	r := img.ClipBox(box)
	if r.Empty() {
		return nil, fmt.Errorf("landmark net: box %+v does not overlap the %dx%d image", box, img.W, img.H)
	}
	net := l.nets.acquire()
	defer l.nets.release(net)
	// The copy's own crop buffer, as Image.Crop would fill a new one: a
	// face's crop is about a megabyte, garbage on every call otherwise.
	crop := &net.crop
	crop.W, crop.H = r.Dx(), r.Dy()
	if n := 3 * crop.W * crop.H; cap(crop.Pix) >= n {
		crop.Pix = crop.Pix[:n]
	} else {
		crop.Pix = make([]float32, n)
	}
	for y := range crop.H {
		copy(crop.Pix[y*crop.W*3:(y+1)*crop.W*3], img.Pix[((r.Min.Y+y)*img.W+r.Min.X)*3:])
	}
	net.in = crop.NetInput(net.in, LandmarkInputSize, true, lmMean, lmDiv)
	raw, err := net.forward(net.in)
	if err != nil {
		return nil, err
	}
	return cropLandmarks(raw, crop.W, crop.H, float64(r.Min.X), float64(r.Min.Y)), nil
}

// cropLandmarks is FaceLandmark68NetBase.postProcess followed by
// FaceLandmarks' scaling to the crop and a shift by (dx, dy). The net's
// outputs are fractions of the 112-pixel square; face-api removes the
// padding as half the difference of the crop's sides scaled to 112 pixels,
// not the whole rows padToSquare actually added (their sum is the same but
// padToSquare rounds the split), and divides by the scaled side. The
// difference is at most half a crop pixel, and it is what face-api
// reports, so it is kept.
func cropLandmarks(raw []float32, w, h int, dx, dy float64) []Point {
	scale := float64(LandmarkInputSize) / float64(max(w, h))
	sw, sh := float64(w)*scale, float64(h)*scale
	var padX, padY float64
	if sw < sh {
		padX = (sh - sw) / 2
	} else if sh < sw {
		padY = (sw - sh) / 2
	}
	pts := make([]Point, len(raw)/2)
	for i := range pts {
		rx := (float64(raw[2*i])*LandmarkInputSize - padX) / sw
		ry := (float64(raw[2*i+1])*LandmarkInputSize - padY) / sh
		pts[i] = Point{X: rx*float64(w) + dx, Y: ry*float64(h) + dy}
	}
	return pts
}
