package library

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/recognize"
)

// PipelineDescriber is the Describer of real photos: the face pipeline
// finds, aligns and describes every face, and Namer, when set, names
// them from a run.
type PipelineDescriber struct {
	// Load gives the face pipeline (a *faces.Pipeline, or a fake in
	// tests); it is called once, at the first photo, so a run that finds
	// everything indexed never reads the model files.
	Load func() (recognize.Finder, error)
	// Mirror averages each descriptor with the one of its mirrored chip
	// (see MirroredDescriptor): it costs one more pass of the descriptor
	// net per face.
	Mirror bool
	// Detector is the face detector Load's pipeline uses ("": auto); it
	// is part of Version, since another detector finds other faces.
	Detector faces.DetectorChoice
	// Namer, when not nil, names the faces (a face run opened through
	// internal/recognize); its "unknown" answers stay unnamed.
	Namer recognize.Recognizer

	once     sync.Once
	pipeline recognize.Finder
	loadErr  error
}

// VerifyMirrored is whether verify averages each face's descriptor with
// its mirror image's (PipelineDescriber.Mirror). On celebrity17 it raised
// the true accept rate at 0.1% false accepts from 89.7% to 91.8% (97.0%
// to 97.4% at 1%) for one more descriptor pass per face. Indexing does
// not: the pass makes a photo ~40% slower to describe, which would put
// the 1,370 dev photos at the 60 s budget on two cores, for grouping that
// already holds its targets (docs/EXPERIMENTS.md).
const VerifyMirrored = true

// Version names what decides the descriptors, for Indexer.Pipeline: a
// library described without mirroring, or with another detector, is
// described again.
func (p *PipelineDescriber) Version() string {
	v := p.Detector.Version()
	if p.Mirror {
		return v + "+mirror"
	}
	return v
}

// load is the pipeline, loaded at the first call.
func (p *PipelineDescriber) load() (recognize.Finder, error) {
	p.once.Do(func() {
		if p.Load == nil {
			p.loadErr = fmt.Errorf("library: PipelineDescriber without Load")
			return
		}
		p.pipeline, p.loadErr = p.Load()
	})
	return p.pipeline, p.loadErr
}

// Describe decodes the photo (EXIF orientation applied, within
// data.DefaultMaxPixels) and describes its faces, largest first.
func (p *PipelineDescriber) Describe(ctx context.Context, path string, b []byte) ([]Face, error) {
	pipe, err := p.load()
	if err != nil {
		return nil, &LoadError{err}
	}
	img, err := data.DecodeBudget(ctx, b, path, data.Budget{MaxPixels: data.DefaultMaxPixels})
	if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
		return nil, errors.New(ie.Reason) // the caller names the photo
	}
	if err != nil {
		return nil, err
	}
	fimg := faces.FromImage(img)
	found, err := pipe.Faces(fimg)
	if err != nil {
		return nil, err
	}
	if p.Mirror {
		real, ok := pipe.(*faces.Pipeline)
		if !ok {
			return nil, fmt.Errorf("mirrored descriptors need the face pipeline, not a %T", pipe)
		}
		for i := range found {
			if found[i].Descriptor, err = MirroredDescriptor(real, fimg, found[i]); err != nil {
				return nil, fmt.Errorf("face %d: %w", i, err)
			}
		}
	}
	var names []recognize.Face
	if p.Namer != nil && len(found) > 0 {
		if names, err = p.Namer.Name(ctx, recognize.FromFaces(fimg), found); err != nil {
			return nil, fmt.Errorf("%s%w", namingFailed, err)
		}
	}
	out := make([]Face, len(found))
	for i, f := range found {
		out[i] = FromPipeline(f, fimg.W, fimg.H)
		if i < len(names) && !names[i].Unknown {
			out[i].Name = names[i].Name
		}
	}
	return out, nil
}

// FromPipeline converts a face of the pipeline, found on a w x h photo,
// with its Quality.
func FromPipeline(f faces.Face, w, h int) Face {
	out := Face{Box: [4]float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Descriptor: f.Descriptor, Score: f.Score}
	for _, p := range f.Landmarks {
		out.Landmarks = append(out.Landmarks, [2]float32{float32(p.X), float32(p.Y)})
	}
	out.Quality = Quality(f.Score, out.Box, w, h)
	return out
}

// GoodFaceSide is the face box side (pixels) from which a face counts as
// fully sharp for Quality: the descriptor net sees 150x150 chips, and
// boxes below ~80 pixels are upscaled nearly two-fold.
const GoodFaceSide = 80

// Quality rates a face in [0, 1] for picking the best face of a person or
// a photo: the detector's confidence, scaled down for faces smaller than
// GoodFaceSide and by the share of the box inside the w x h photo (a face
// cut by the edge describes badly).
func Quality(score float64, box [4]float64, w, h int) float64 {
	x, y, bw, bh := box[0], box[1], box[2], box[3]
	if bw <= 0 || bh <= 0 {
		return 0
	}
	size := min(1, min(bw, bh)/GoodFaceSide)
	iw := max(0, min(x+bw, float64(w))-max(x, 0))
	ih := max(0, min(y+bh, float64(h))-max(y, 0))
	inside := iw * ih / (bw * bh)
	return max(0, min(1, score*size*inside))
}

// MirroredDescriptor is the mean of face's descriptor and the descriptor
// of its aligned chip mirrored left to right: a face and its mirror image
// are the same person, and the mean averages out some of the net's
// sensitivity to pose and lighting side.
func MirroredDescriptor(p *faces.Pipeline, img *faces.Image, f faces.Face) ([]float32, error) {
	return JitteredDescriptor(p, img, f, nil)
}

// JitteredDescriptor averages face's descriptor with those of its
// mirrored chip and, for each scale in scales, of the chip aligned on the
// landmarks scaled about their centre (a slightly tighter or looser
// crop) and its mirror: test-time augmentation, as dlib's "jitter".
func JitteredDescriptor(p *faces.Pipeline, img *faces.Image, f faces.Face, scales []float64) ([]float32, error) {
	if len(f.Landmarks) == 0 {
		return nil, fmt.Errorf("mirrored descriptor: the face has no landmarks")
	}
	var chips []*faces.Image
	for _, sc := range append([]float64{1}, scales...) {
		chip, err := faces.AlignedChip(img, scaleAbout(f.Landmarks, sc), p.Template, nil)
		if err != nil {
			return nil, fmt.Errorf("alignment: %w", err)
		}
		flipped := &faces.Image{W: chip.W, H: chip.H, Pix: append([]float32(nil), chip.Pix...)}
		Mirror(flipped)
		if sc == 1 {
			chips = append(chips, flipped) // the plain chip's is f.Descriptor
			continue
		}
		chips = append(chips, chip, flipped)
	}
	ds, err := p.Rec.DescribeAll(chips)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	out := append([]float32(nil), f.Descriptor...)
	for _, d := range ds {
		for i, v := range d {
			out[i] += v
		}
	}
	for i := range out {
		out[i] /= float32(len(ds) + 1)
	}
	return out, nil
}

// scaleAbout scales points about their centre.
func scaleAbout(pts []faces.Point, s float64) []faces.Point {
	if s == 1 {
		return pts
	}
	var cx, cy float64
	for _, q := range pts {
		cx += q.X
		cy += q.Y
	}
	cx /= float64(len(pts))
	cy /= float64(len(pts))
	out := make([]faces.Point, len(pts))
	for i, q := range pts {
		out[i] = faces.Point{X: cx + s*(q.X-cx), Y: cy + s*(q.Y-cy)}
	}
	return out
}

// Mirror flips an image left to right in place.
func Mirror(m *faces.Image) {
	for y := range m.H {
		row := m.Pix[y*3*m.W : (y+1)*3*m.W]
		for a, b := 0, m.W-1; a < b; a, b = a+1, b-1 {
			for c := range 3 {
				row[3*a+c], row[3*b+c] = row[3*b+c], row[3*a+c]
			}
		}
	}
}

// namingFailed begins the error of a photo the run could not name: the
// run's fault, not the photo's, so a rerun (maybe with the run fixed)
// tries the photo again.
const namingFailed = "naming: "

// LoadError is a failure to load the face pipeline: it stops an index
// run instead of marking every photo bad.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return "loading the face pipeline: " + e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }
