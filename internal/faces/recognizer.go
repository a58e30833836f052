package faces

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// The recognition net is face-api's FaceRecognitionNet, a port of dlib's
// ResNet-34-style face descriptor (29 convolutions, 128-D output). Every
// fact below comes from its TypeScript (faceRecognitionNet/, ops/normalize.ts,
// dom/NetInput.ts):
//
//   - input: the face padded to a centred square with zeros, resized to
//     150x150 (toBatchTensor(150, true)), then (p - mean) / 255 with the
//     mean below (forwardInput subtracts it, then divides by 255);
//   - a conv unit is a convolution, + bias, then a per-channel scale and
//     offset (dlib's affine layer, i.e. a folded batch norm), then ReLU
//     where used;
//   - stem conv32_down: 7x7 stride 2 VALID + ReLU, then max pool 3x3 stride
//     2 VALID: 150 -> 72 -> 35;
//   - residual block: 3x3 SAME + ReLU, 3x3 SAME, + input, ReLU;
//   - down block: 3x3 stride 2 VALID + ReLU, 3x3 SAME; the shortcut is avg
//     pool 2x2 stride 2 VALID of the input, with zero channels appended
//     when the block doubles them; when the conv output is one smaller than
//     the shortcut (8 -> 3 vs 4, 4 -> 1 vs 2) it gets a zero row at the
//     bottom and a zero column at the right; + shortcut, ReLU;
//   - the mean over height and width, then fc (256x128, no bias).
//
// Here a 3x3 SAME convolution with stride 1 is a Conv2d with padding 1 (TF
// pads it symmetrically) and VALID is padding 0. The scale and offset are
// folded into each convolution at load time: (conv(x, W) + b)·s + o =
// conv(x, W·s) + (b·s + o), which differs from face-api's order only by
// float rounding.

// DescriptorSize is the length of a face descriptor.
const DescriptorSize = 128

// RecognizerInputSize is the side of the square input the net sees.
const RecognizerInputSize = 150

// recMean is the meanRgb of FaceRecognitionNet.forwardInput.
var recMean = [3]float32{122.782, 117.001, 104.298}

// recDiv is what forwardInput divides the centred pixels by.
const recDiv = 255

// recChunk is how many faces one pass through a network copy holds at most:
// Forward cuts larger batches into chunks of this many, so that memory
// stays bounded (every layer keeps its own output: 2.8 MB per face, 44 MB
// per copy at 16) while the late, small layers still get GEMMs wide enough
// to reuse each weight many times.
const recChunk = 16

// recBlockSpec is one residual block of the net.
type recBlockSpec struct {
	name    string
	in, out int
	down    bool
}

// recBlocks lists the blocks in the order forwardInput runs them.
var recBlocks = []recBlockSpec{
	{"conv32_1", 32, 32, false},
	{"conv32_2", 32, 32, false},
	{"conv32_3", 32, 32, false},
	{"conv64_down", 32, 64, true},
	{"conv64_1", 64, 64, false},
	{"conv64_2", 64, 64, false},
	{"conv64_3", 64, 64, false},
	{"conv128_down", 64, 128, true},
	{"conv128_1", 128, 128, false},
	{"conv128_2", 128, 128, false},
	{"conv256_down", 128, 256, true},
	{"conv256_1", 256, 256, false},
	{"conv256_2", 256, 256, false},
	{"conv256_down_out", 256, 256, true},
}

// recStemChannels and recFeatures are the stem's output channels and the
// width of the pooled feature vector fc reads.
const (
	recStemChannels = 32
	recStemKernel   = 7
	recFeatures     = 256
	// recStemOut is the map side after the stem's convolution (150 -> 72)
	// and max pool (-> 35).
	recStemOut = ((RecognizerInputSize-recStemKernel)/2+1-3)/2 + 1
)

// recConvSpec is one conv unit: its weight-name prefix and sizes.
type recConvSpec struct {
	prefix          string
	in, out, kernel int
}

// recConvSpecs lists every conv unit in manifest order: the stem, then
// conv1 and conv2 of each block.
func recConvSpecs() []recConvSpec {
	s := []recConvSpec{{"conv32_down", 3, recStemChannels, recStemKernel}}
	for _, b := range recBlocks {
		s = append(s,
			recConvSpec{b.name + "/conv1", b.in, b.out, 3},
			recConvSpec{b.name + "/conv2", b.out, b.out, 3})
	}
	return s
}

// recognizerSpecs lists every tensor the net reads.
func recognizerSpecs() []tensorSpec {
	var s []tensorSpec
	for _, c := range recConvSpecs() {
		s = append(s,
			tensorSpec{c.prefix + "/conv/filters", []int{c.kernel, c.kernel, c.in, c.out}},
			tensorSpec{c.prefix + "/conv/bias", []int{c.out}},
			tensorSpec{c.prefix + "/scale/weights", []int{c.out}},
			tensorSpec{c.prefix + "/scale/biases", []int{c.out}})
	}
	return append(s, tensorSpec{"fc", []int{recFeatures, DescriptorSize}})
}

// recUnit is a conv unit with its scale and offset folded in.
type recUnit struct {
	w *tensor.Tensor // [Out, In, K, K]
	b *tensor.Tensor // [Out]
}

// Recognizer computes face descriptors with face-api's recognition net.
//
// It is safe for concurrent use: each call borrows a private copy of the
// network's layers (they own their activation buffers) from a pool of at
// most GOMAXPROCS copies, all sharing the read-only folded weights. A call
// that finds every copy busy waits for one; one call already keeps every
// core busy, so more copies would only hold more memory.
type Recognizer struct {
	units []recUnit      // stem, then conv1 and conv2 of each block
	fc    *tensor.Tensor // [256, 128], features x descriptor

	nets netPool[*recNet]
}

// LoadRecognizer reads the recognition net's weights from modelDir, the
// folder holding model/ (see ModelDir).
func LoadRecognizer(modelDir string) (*Recognizer, error) {
	return loadNet(modelDir, FaceRecognition, NewRecognizer)
}

// NewRecognizer checks that w holds every tensor of face-api's
// face_recognition_model with its exact shape (extra tensors are ignored,
// as face-api ignores them) and folds each unit's scale and offset into its
// convolution.
func NewRecognizer(w *Weights) (*Recognizer, error) {
	get, err := w.pick("face recognition net", FaceRecognition, recognizerSpecs())
	if err != nil {
		return nil, err
	}
	r := &Recognizer{fc: get["fc"].Clone()}
	for _, c := range recConvSpecs() {
		r.units = append(r.units, foldUnit(get[c.prefix+"/conv/filters"], get[c.prefix+"/conv/bias"],
			get[c.prefix+"/scale/weights"], get[c.prefix+"/scale/biases"]))
	}
	// A SAME 3x3 convolution of a 1x1 map sees only its centre tap (the
	// other eight read padding), so it is the 1x1 convolution with the
	// centre weights: the same nonzero products, a ninth of the weights to
	// stream (conv256_down_out/conv2, at batch 1 a matrix-vector product
	// whose time is all weight traffic).
	side := recStemOut // the block's input
	for i, b := range recBlocks {
		conv2In := side
		if b.down {
			// conv1 is a VALID stride-2 3x3; the block's output takes
			// the shortcut's size, side/2.
			conv2In, side = (side-3)/2+1, side/2
		}
		if conv2In == 1 {
			r.units[2+2*i] = r.units[2+2*i].centre()
		}
	}
	r.nets = newNetPool(r.newNet)
	return r, nil
}

// foldUnit turns a TF conv unit (filters [K, K, In, Out], bias, scale,
// offset) into Conv2d weights [Out, In, K, K] and a bias computing
// conv(x, W·s) + (b·s + o). Products and sums are formed in float64 and
// rounded once, so each folded value is the nearest float32 to the exact
// one.
func foldUnit(filters, bias, scale, offset *tensor.Tensor) recUnit {
	k, in, out := filters.Shape[0], filters.Shape[2], filters.Shape[3]
	u := recUnit{w: tensor.New(out, in, k, k), b: tensor.New(out)}
	for y := range k {
		for x := range k {
			for i := range in {
				src := filters.Data[((y*k+x)*in+i)*out:]
				for o := range out {
					u.w.Data[((o*in+i)*k+y)*k+x] = float32(float64(src[o]) * float64(scale.Data[o]))
				}
			}
		}
	}
	for o := range out {
		u.b.Data[o] = float32(float64(bias.Data[o])*float64(scale.Data[o]) + float64(offset.Data[o]))
	}
	return u
}

// centre returns the unit's centre tap as a 1x1 convolution.
func (u recUnit) centre() recUnit {
	out, in, k := u.w.Shape[0], u.w.Shape[1], u.w.Shape[2]
	c := recUnit{w: tensor.New(out, in, 1, 1), b: u.b}
	for o := range out {
		for i := range in {
			c.w.Data[o*in+i] = u.w.Data[((o*in+i)*k+k/2)*k+k/2]
		}
	}
	return c
}

// recNet is one private copy of the network with its buffers.
type recNet struct {
	stem    *nn.Conv2d
	relu    *nn.ReLU // in place; shared by every unit, it keeps no state that matters in evaluation
	maxPool *nn.MaxPool2d
	blocks  []recNetBlock
	in      *tensor.Tensor // Describe's input
	feat    []float32      // [N, 256] pooled features
}

// recNetBlock is one block's layers.
type recNetBlock struct {
	spec         recBlockSpec
	conv1, conv2 *nn.Conv2d
	avg          *nn.AvgPool2d  // shortcut of a down block, nil otherwise
	sum          *tensor.Tensor // a down block's output (the shortcut's shape)
}

// newNet builds a private copy of the network whose parameters point at the
// recognizer's shared weights (layers only read them in Forward).
func (r *Recognizer) newNet() *recNet {
	rng := rand.New(rand.NewPCG(1, 2)) // the initial values are replaced at once
	// same: TF's SAME padding, symmetric for the odd kernels at stride 1
	// used here; otherwise VALID.
	conv := func(u recUnit, stride int, same bool) *nn.Conv2d {
		out, in, k := u.w.Shape[0], u.w.Shape[1], u.w.Shape[2]
		pad := 0
		if same {
			pad = k / 2
		}
		c := nn.NewConv2d(in, out, k, stride, pad, true, rng)
		c.Weight.Value, c.Bias.Value = u.w, u.b
		c.SetNeedInputGrad(false)
		c.SetTraining(false)
		return c
	}
	n := &recNet{
		stem:    conv(r.units[0], 2, false),
		relu:    nn.NewReLU(true),
		maxPool: nn.NewMaxPool2d(3, 2, 0),
	}
	n.relu.SetTraining(false)
	n.maxPool.SetTraining(false)
	for i, b := range recBlocks {
		nb := recNetBlock{spec: b}
		if b.down {
			nb.conv1 = conv(r.units[1+2*i], 2, false)
			nb.avg = nn.NewAvgPool2d(2, 2, 0)
			nb.avg.SetTraining(false)
		} else {
			nb.conv1 = conv(r.units[1+2*i], 1, true)
		}
		nb.conv2 = conv(r.units[2+2*i], 1, true)
		n.blocks = append(n.blocks, nb)
	}
	return n
}

// Describe is face-api's computeFaceDescriptor for one face image already
// cut out of its photo (see Image.ClipBox and Image.Crop): the face padded
// to a centred square, resized to 150x150, normalized and run through the
// net. An empty image is an error (face-api would return 128 zeros, which
// would match every other empty crop).
func (r *Recognizer) Describe(face *Image) ([]float32, error) {
	if face == nil {
		return nil, errors.New("face recognition net: no image")
	}
	if face.W < 1 || face.H < 1 || len(face.Pix) != 3*face.W*face.H {
		return nil, fmt.Errorf("face recognition net: image %dx%d with %d values is not a valid RGB image",
			face.W, face.H, len(face.Pix))
	}
	net := r.nets.acquire()
	defer r.nets.release(net)
	net.in = face.NetInput(net.in, RecognizerInputSize, true, recMean, recDiv)
	d := make([]float32, DescriptorSize)
	if err := r.forward(net, net.in, d); err != nil {
		return nil, err
	}
	return d, nil
}

// DescribeAll describes several face images in batched passes, which is
// faster per face than calling Describe for each. The i-th descriptor
// belongs to faces[i].
func (r *Recognizer) DescribeAll(faces []*Image) ([][]float32, error) {
	if len(faces) == 0 {
		return nil, nil
	}
	size := RecognizerInputSize
	per := 3 * size * size
	x := tensor.New(min(len(faces), recChunk), 3, size, size)
	var one *tensor.Tensor
	res := make([][]float32, len(faces))
	flat := make([]float32, len(faces)*DescriptorSize)
	for lo := 0; lo < len(faces); lo += recChunk {
		hi := min(lo+recChunk, len(faces))
		for i, f := range faces[lo:hi] {
			if f == nil || f.W < 1 || f.H < 1 || len(f.Pix) != 3*f.W*f.H {
				return nil, fmt.Errorf("face recognition net: face %d is not a valid RGB image", lo+i)
			}
			one = f.NetInput(one, size, true, recMean, recDiv)
			copy(x.Data[i*per:(i+1)*per], one.Data)
		}
		xs := tensor.FromData(x.Data[:(hi-lo)*per], hi-lo, 3, size, size)
		if err := r.run(xs, flat[lo*DescriptorSize:hi*DescriptorSize]); err != nil {
			return nil, err
		}
	}
	for i := range res {
		res[i] = flat[i*DescriptorSize : (i+1)*DescriptorSize : (i+1)*DescriptorSize]
	}
	return res, nil
}

// Forward runs the net on a prepared input [N, 3, 150, 150] (NetInput's
// layout and normalization) and returns the N descriptors back to back.
func (r *Recognizer) Forward(x *tensor.Tensor) ([]float32, error) {
	if x == nil {
		return nil, errors.New("face recognition net: no input")
	}
	s := RecognizerInputSize
	if len(x.Shape) != 4 || x.Shape[0] < 1 || x.Shape[1] != 3 || x.Shape[2] != s || x.Shape[3] != s ||
		len(x.Data) != tensor.Numel(x.Shape) {
		return nil, &nn.ShapeError{Layer: "FaceRecognitionNet", Got: append([]int(nil), x.Shape...),
			Expected: fmt.Sprintf("[N, 3, %d, %d]", s, s)}
	}
	out := make([]float32, x.Shape[0]*DescriptorSize)
	if err := r.run(x, out); err != nil {
		return nil, err
	}
	return out, nil
}

// run feeds x to borrowed network copies in chunks of at most recChunk
// faces and writes the descriptors to out.
func (r *Recognizer) run(x *tensor.Tensor, out []float32) error {
	n, per := x.Shape[0], 3*RecognizerInputSize*RecognizerInputSize
	net := r.nets.acquire()
	defer r.nets.release(net)
	for lo := 0; lo < n; lo += recChunk {
		hi := min(lo+recChunk, n)
		xs := tensor.FromData(x.Data[lo*per:hi*per], hi-lo, 3, RecognizerInputSize, RecognizerInputSize)
		if err := r.forward(net, xs, out[lo*DescriptorSize:hi*DescriptorSize]); err != nil {
			return err
		}
	}
	return nil
}

// forward runs one chunk through net and writes its descriptors to out.
func (r *Recognizer) forward(net *recNet, x *tensor.Tensor, out []float32) error {
	wrap := func(err error) error { return fmt.Errorf("face recognition net: %w", err) }
	h, err := net.stem.Forward(x)
	if err != nil {
		return wrap(err)
	}
	if h, err = net.relu.Forward(h); err != nil {
		return wrap(err)
	}
	if h, err = net.maxPool.Forward(h); err != nil {
		return wrap(err)
	}
	for i := range net.blocks {
		if h, err = net.blocks[i].forward(net.relu, h); err != nil {
			return fmt.Errorf("face recognition net: %s: %w", net.blocks[i].spec.name, err)
		}
	}
	// Global average pool to [N, 256], then fc without bias.
	n, c, plane := h.Shape[0], h.Shape[1], h.Shape[2]*h.Shape[3]
	if c != recFeatures {
		return fmt.Errorf("face recognition net: %d features before fc, want %d", c, recFeatures)
	}
	net.feat = growF32(net.feat, n*c)
	inv := 1 / float32(plane)
	for p := range n * c {
		var s float32
		for _, v := range h.Data[p*plane : (p+1)*plane] {
			s += v
		}
		net.feat[p] = s * inv
	}
	tensor.Gemm(false, false, n, DescriptorSize, recFeatures, 1, net.feat, recFeatures,
		r.fc.Data, DescriptorSize, 0, out, DescriptorSize)
	return nil
}

// forward runs one block on x, which it leaves unchanged (the shortcut
// reads it after the convolutions).
func (b *recNetBlock) forward(relu *nn.ReLU, x *tensor.Tensor) (*tensor.Tensor, error) {
	h, err := b.conv1.Forward(x)
	if err != nil {
		return nil, err
	}
	if h, err = relu.Forward(h); err != nil {
		return nil, err
	}
	if h, err = b.conv2.Forward(h); err != nil {
		return nil, err
	}
	if b.avg == nil {
		if !h.SameShape(x) {
			return nil, fmt.Errorf("residual output %s does not match input %s",
				tensor.ShapeString(h.Shape), tensor.ShapeString(x.Shape))
		}
		// h = ReLU(h + x), in conv2's own buffer (the landmark net's
		// kernel: AVX2 where there is one).
		hd, xd := h.Data, x.Data[:len(h.Data)]
		tensor.ParallelMin(len(hd), 1<<15, func(lo, hi int) {
			reluSumRange(hd[lo:hi], hd[lo:hi], xd[lo:hi], nil, nil)
		})
		return h, nil
	}
	sc, err := b.avg.Forward(x)
	if err != nil {
		return nil, err
	}
	return b.addShortcut(h, sc)
}

// addShortcut returns ReLU(h + shortcut) for a down block, in the shortcut's
// spatial size: the shortcut's missing channels are zeros, and so are h's
// missing bottom row and right column when it came out one smaller.
func (b *recNetBlock) addShortcut(h, sc *tensor.Tensor) (*tensor.Tensor, error) {
	n, co, ho, wo := h.Shape[0], h.Shape[1], h.Shape[2], h.Shape[3]
	ci, hp, wp := sc.Shape[1], sc.Shape[2], sc.Shape[3]
	if sc.Shape[0] != n || (ci != co && 2*ci != co) || hp-ho < 0 || hp-ho > 1 || wp-wo < 0 || wp-wo > 1 {
		return nil, fmt.Errorf("down block output %s cannot be added to shortcut %s",
			tensor.ShapeString(h.Shape), tensor.ShapeString(sc.Shape))
	}
	b.sum = tensor.Reuse(b.sum, n, co, hp, wp)
	tensor.ParallelMin(n*co, max(1, 4096/(hp*wp)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			img, c := p/co, p%co
			dst := b.sum.Data[p*hp*wp : (p+1)*hp*wp]
			conv := h.Data[p*ho*wo : (p+1)*ho*wo]
			var short []float32
			if c < ci {
				short = sc.Data[(img*ci+c)*hp*wp : (img*ci+c+1)*hp*wp]
			}
			for y := range hp {
				for x := range wp {
					var v float32
					if y < ho && x < wo {
						v = conv[y*wo+x]
					}
					if short != nil {
						v += short[y*wp+x]
					}
					dst[y*wp+x] = max(v, 0)
				}
			}
		}
	})
	return b.sum, nil
}

// growF32 returns s with length n, reallocated only when too small.
func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Distance is the Euclidean distance between two descriptors (face-api's
// euclideanDistance): two photos of one person are usually within 0.6.
// Descriptors of different lengths are infinitely far apart.
func Distance(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
