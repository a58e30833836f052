package faces

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"starid/internal/tensor"
)

// A second face descriptor, from a net trained differently from face-api's
// (ArcFace-style margin losses on MS1M rather than dlib's metric learning),
// so that its mistakes are partly independent of the first's. The nets are
// TF.js graph models from the Human library's model package (HumanModelsSpec)
// and run on GraphNet.

// Descriptor net names, as in the package's models/ folder: NAME.json and
// NAME.bin.
const (
	// MobileFaceNet: 112x112 RGB in about [-1, 1], a 192-value
	// L2-normalised embedding (a TensorFlow MobileFaceNet).
	MobileFaceNet = "mobilefacenet"
	// MobileFace: 112x112 RGB pixels, a 256-value embedding (becauseofAI's
	// MobileFace, from MXNet); the graph scales its own input.
	MobileFace = "mobileface"
	// FaceRes: 224x224 RGB pixels, a 1,024-value global pooling of a
	// MobileNet trained for identity, age and gender (HSE FaceRes; Human's
	// default descriptor), float16 weights. Human feeds it the upright face
	// box rather than an ArcFace chip.
	FaceRes = "faceres"
)

// humanModelsDir is the models folder's sub-folder for HumanModelsSpec's
// files, versioned like the folder itself.
const humanModelsDir = "human-models-3.0.4"

// GraphModelPath is the model.json of a descriptor net under a models
// folder.
func GraphModelPath(dir, model string) string {
	return filepath.Join(dir, humanModelsDir, model+".json")
}

// ArcFaceTemplate is the 112x112 chip the ArcFace family is trained on
// (insightface's five-point reference: eyes at (38.29, 51.70) and (73.53,
// 51.50), mouth corners at (41.55, 92.37) and (70.73, 92.20) pixels). The
// alignment here fits three points, so the mouth is the corners' middle;
// the nose tip, the fifth point, sits between the eyes and the mouth on
// the same midline and adds little to a similarity fit.
var ArcFaceTemplate = Template{
	LeftEye:  Point{38.2946 / 112, 51.6963 / 112},
	RightEye: Point{73.5318 / 112, 51.5014 / 112},
	Mouth:    Point{(41.5493 + 70.7299) / 2 / 112, (92.3655 + 92.2041) / 2 / 112},
	Size:     112,
}

// ArcRepair is the GraphOptions.Repair LoadArcDescriber compiles with.
var ArcRepair = true

// ArcDescriber describes faces with one descriptor graph net.
type ArcDescriber struct {
	Name      string
	Net       *GraphNet
	Mean, Div float32  // net input = (pixel - Mean) / Div
	BGR       bool     // the net takes blue, green, red
	Template  Template // the chip the net takes
}

// arcSpec is how a known descriptor net is fed and read.
type arcSpec struct {
	mean, div float32
	template  Template
	output    string // the graph node holding the descriptor; "" for the sink
}

// arcSpecs are the known nets'. FaceRes gets dlib's chip geometry with a
// little room around the face, close to the face boxes Human crops for it.
var arcSpecs = map[string]arcSpec{
	MobileFaceNet: {mean: 127.5, div: 128, template: ArcFaceTemplate},
	MobileFace:    {mean: 0, div: 1, template: ArcFaceTemplate},
	FaceRes:       {mean: 0, div: 1, template: ChipTemplate(224, 0.1), output: "global_pooling/Mean"},
}

// LoadArcDescriber loads the descriptor net model (MobileFaceNet,
// MobileFace or FaceRes) from a models folder.
func LoadArcDescriber(dir, model string) (*ArcDescriber, error) {
	spec, ok := arcSpecs[model]
	if !ok {
		return nil, fmt.Errorf("descriptor net %q is not known (want %s, %s or %s)", model, MobileFaceNet, MobileFace, FaceRes)
	}
	g, err := LoadGraphNet(GraphModelPath(dir, model), GraphOptions{Repair: ArcRepair, Output: spec.output})
	if err != nil {
		return nil, err
	}
	size := spec.template.Size
	if c, h, w := g.InputShape(); c != 3 || h != size || w != size {
		return nil, fmt.Errorf("descriptor net %s takes %dx%dx%d images, want %dx%dx3", model, h, w, c, size, size)
	}
	return &ArcDescriber{Name: model, Net: g, Mean: spec.mean, Div: spec.div, Template: spec.template}, nil
}

// Describe aligns the face with the given 68 landmarks and returns its
// L2-normalised descriptor.
func (d *ArcDescriber) Describe(img *Image, landmarks []Point) ([]float32, error) {
	chip, err := AlignedChip(img, landmarks, d.Template, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: alignment: %w", d.Name, err)
	}
	return d.DescribeChip(chip)
}

// DescribeChip returns the L2-normalised descriptor of an aligned chip.
func (d *ArcDescriber) DescribeChip(chip *Image) ([]float32, error) {
	s := d.Template.Size
	if chip == nil || chip.W != s || chip.H != s || len(chip.Pix) != 3*s*s {
		return nil, fmt.Errorf("%s: want a %dx%d RGB chip", d.Name, s, s)
	}
	x := tensor.New(1, 3, s, s)
	plane := s * s
	for p := range plane {
		for c := range 3 {
			dst := c
			if d.BGR {
				dst = 2 - c
			}
			x.Data[dst*plane+p] = (chip.Pix[3*p+c] - d.Mean) / d.Div
		}
	}
	out, err := d.Net.Forward(x)
	if err != nil {
		return nil, err
	}
	if err := normalize(out); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	return out, nil
}

// normalize scales v to unit length in place.
func normalize(v []float32) error {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return errors.New("the descriptor is zero or not finite")
	}
	inv := 1 / math.Sqrt(ss)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return nil
}
