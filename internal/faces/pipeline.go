package faces

import "fmt"

// PipelineVersion names everything that decides a descriptor: the weights,
// the detector sizes and policy, the landmark net and the alignment
// template. Descriptor caches are keyed by it, so it must change whenever
// any of those does.
const PipelineVersion = "face-api-1.7.15/starid-2"

// MinScore is the detector confidence a face must reach (face-api's
// default for the tiny detector).
const MinScore = 0.5

// Pipeline finds, aligns and describes every face in a photo. It is safe
// for concurrent use: each net keeps a pool of layer instances.
type Pipeline struct {
	Det      *Detector
	Marks    *Landmarker
	Rec      *Recognizer
	Sizes    []int    // detector input sizes, tried in order (DetectFallback)
	MinScore float64  // detector threshold
	Template Template // alignment target
}

// LoadPipeline loads the three nets from modelDir (the folder holding
// model/, see ModelDir).
func LoadPipeline(modelDir string) (*Pipeline, error) {
	det, err := LoadDetector(modelDir)
	if err != nil {
		return nil, err
	}
	marks, err := LoadLandmarker(modelDir)
	if err != nil {
		return nil, err
	}
	rec, err := LoadRecognizer(modelDir)
	if err != nil {
		return nil, err
	}
	return &Pipeline{Det: det, Marks: marks, Rec: rec, Sizes: DefaultSizes, MinScore: MinScore, Template: DefaultTemplate}, nil
}

// Faces returns every face in img with its landmarks and descriptor,
// largest box first. A photo without faces gives an empty slice.
func (p *Pipeline) Faces(img *Image) ([]Face, error) {
	// The first size that finds any face settles the photo; the later
	// sizes rescue the ~6% of photos the first one misses (DefaultSizes).
	dets, err := p.Det.DetectFallback(img, p.Sizes, p.MinScore)
	if err != nil {
		return nil, err
	}
	// Largest first: the main subject of a portrait, and the face the
	// training set's one-descriptor-per-photo rule keeps.
	SortLargestFirst(dets)
	out := make([]Face, 0, len(dets))
	for _, d := range dets {
		f, err := p.describe(img, d)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// describe adds landmarks and a descriptor to one detection. A box whose
// crop is empty (wholly outside the photo) is dropped rather than failing
// the photo.
func (p *Pipeline) describe(img *Image, d Detection) (*Face, error) {
	if img.ClipBox(d.Box).Empty() {
		return nil, nil
	}
	marks, err := p.Marks.Landmarks(img, d.Box)
	if err != nil {
		return nil, fmt.Errorf("landmarks: %w", err)
	}
	chip, err := AlignedChip(img, marks, p.Template, nil)
	if err != nil {
		return nil, fmt.Errorf("alignment: %w", err)
	}
	desc, err := p.Rec.Describe(chip)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	return &Face{Detection: d, Landmarks: marks, Descriptor: desc}, nil
}
