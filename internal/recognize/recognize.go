// Package recognize is the seam between a trained model and everything
// that names people in photos: Open a run folder, give the Recognizer a
// photo, get one Face per face found, each with a name. predict and the
// server go through it, whatever the run is: a face run (the face
// pipeline's descriptors and a trained head), or a VGG run that sees the
// whole photo, a square around each face, or each face's aligned chip.
//
// Open reads a run from a folder. The recognizers depend only on a run's
// files (model.json and the weights) and on Options, never on how callers
// got them, so another source of a model (an embedded default model) can
// be one more opening function beside Open returning the same interface.
package recognize

import (
	"cmp"
	"context"
	"fmt"
	"image"
	"math"
	"sync"

	"starid/internal/eval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
)

// Face is one recognized face: the one answer type from the model to the
// JSON encoders. A whole-photo VGG run gives one Face whose Box is the
// whole photo.
type Face struct {
	// Box is in pixels of the upright photo (EXIF orientation applied).
	Box        faces.Box
	Name       string // the class name, or eval.UnknownName
	Unknown    bool   // the answer fell below the run's threshold
	Confidence float64
	Top        []Candidate // best first
	// Face runs: the descriptor's distance to the centroid of the head's
	// top class (what the unknown rule compares with the threshold), and
	// the person whose centroid is nearest.
	Distance *float64
	Closest  string
}

// Candidate is one ranked name.
type Candidate struct {
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// Info describes the model behind a Recognizer.
type Info struct {
	Classes []string
	Kind    string // runs.ModelFace, or the VGG model's name
	// Threshold is the unknown threshold in use: the descriptor distance
	// for face runs, the top probability otherwise (0: none).
	Threshold float64
	Crop      facecrop.Mode // VGG runs: what the network sees of a photo
	// Source names the model for messages: the run folder, or which
	// default model (OpenDefault).
	Source string
	// Warning, when not empty, is worth telling the user once (the run's
	// face crops came from another face pipeline).
	Warning string
}

// Finder finds the faces of a photo (the face pipeline, or a fake).
type Finder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// Recognizer names the faces in photos. Implementations are safe for
// concurrent use.
type Recognizer interface {
	Info() Info
	// FindsFaces says whether Recognize needs the face pipeline: false
	// only for a whole-photo VGG run.
	FindsFaces() bool
	// Recognize finds the faces of the photo (with Options.Finder) and
	// names each, largest first.
	Recognize(ctx context.Context, p *Photo) ([]Face, error)
	// Name names faces found elsewhere (the descriptor cache): for a face
	// run only their descriptors are read and p may be nil; a VGG run
	// cuts them out of p, and names p whole when found is empty.
	Name(ctx context.Context, p *Photo, found []faces.Face) ([]Face, error)
}

// Options adjust how a run answers.
type Options struct {
	// TopK is how many candidates each Face lists (0: 5).
	TopK int
	// Threshold, when not nil, replaces the run's unknown threshold.
	Threshold *float64
	// OpenFinder loads the face pipeline. Open calls it only for runs
	// that find faces, so that a missing model fails at once; nil leaves
	// such a recognizer without a finder, able to Name only.
	OpenFinder func() (Finder, error)
}

// Open reads the run in dir and returns its recognizer. Errors name the
// file and the problem.
func Open(dir string, opt Options) (Recognizer, error) {
	info, err := runs.ReadModelInfo(dir)
	if err != nil {
		return nil, err
	}
	if opt.TopK <= 0 {
		opt.TopK = 5
	}
	if info.Model == runs.ModelFace {
		return openFaceRun(dir, opt)
	}
	return openVGGRun(dir, opt)
}

func openFinder(opt Options, needed bool) (Finder, error) {
	if !needed || opt.OpenFinder == nil {
		return nil, nil
	}
	return opt.OpenFinder()
}

// faceRun names faces with a face run's head.
type faceRun struct {
	run    *identify.FaceRun
	rule   identify.Rule
	finder Finder
	source string
	k      int
	mu     sync.Mutex // the head's Linear reuses its output buffer
}

func openFaceRun(dir string, opt Options) (*faceRun, error) {
	run, err := identify.OpenFaceRun(dir)
	if err != nil {
		return nil, err
	}
	return newFaceRun(run, opt)
}

// newFaceRun names faces with an opened face run, which must have been
// trained on this starid's face pipeline.
func newFaceRun(run *identify.FaceRun, opt Options) (*faceRun, error) {
	rule, err := run.AnswerRule(faces.PipelineVersion, opt.Threshold)
	if err != nil {
		return nil, err
	}
	r := &faceRun{run: run, rule: rule, k: opt.TopK, source: cmp.Or(run.Dir, run.Label)}
	if r.finder, err = openFinder(opt, true); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *faceRun) Info() Info {
	return Info{Classes: r.run.Model.Classes, Kind: runs.ModelFace, Threshold: r.rule.MaxDistance, Source: r.source}
}

func (r *faceRun) FindsFaces() bool { return true }

func (r *faceRun) Recognize(ctx context.Context, p *Photo) ([]Face, error) {
	found, err := findFaces(r.finder, p)
	if err != nil {
		return nil, err
	}
	return r.Name(ctx, p, found)
}

func (r *faceRun) Name(ctx context.Context, _ *Photo, found []faces.Face) ([]Face, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Face, 0, len(found))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range found {
		a := r.run.Model.Identify(f.Descriptor, r.rule, r.k)
		d := a.Distance
		face := Face{Box: f.Box, Name: a.Name, Unknown: a.Class == eval.Unknown, Confidence: a.Probability,
			Distance: &d, Closest: r.run.Model.Classes[a.Closest]}
		for _, c := range a.Top {
			face.Top = append(face.Top, Candidate{Name: c.Name, Probability: c.Probability})
		}
		out = append(out, face)
	}
	return out, nil
}

// findFaces runs the finder, or says why there is none.
func findFaces(f Finder, p *Photo) ([]faces.Face, error) {
	if f == nil {
		return nil, fmt.Errorf("no face finder: the face models were not loaded")
	}
	return f.Faces(p.Faces())
}

// RoundBox is a box in whole pixels [x, y, w, h], as predict and the API
// print it.
func RoundBox(b faces.Box) [4]int {
	return [4]int{int(math.Round(b.X)), int(math.Round(b.Y)), int(math.Round(b.W)), int(math.Round(b.H))}
}

// rectBox is an image region as a Box.
func rectBox(r image.Rectangle) faces.Box {
	return faces.Box{X: float64(r.Min.X), Y: float64(r.Min.Y), W: float64(r.Dx()), H: float64(r.Dy())}
}
