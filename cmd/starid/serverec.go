package main

import (
	"context"
	"fmt"
	"image"
	"math"
	"sync"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
	"starid/internal/serve"
	"starid/internal/tensor"
	"starid/internal/train"
)

// serveTopK is how many candidates the server lists per face (the page
// shows three).
const serveTopK = 5

// openRunRecognizer serves a run directory: a face run names every face the
// pipeline finds; a whole-photo VGG run names the photo as one "face" whose
// box is the whole photo, as predict does.
func openRunRecognizer(dir string) (serve.Recognizer, error) {
	info, err := runs.ReadModelInfo(dir)
	if err != nil {
		return nil, err
	}
	if info.Model == runs.ModelFace {
		run, err := identify.OpenFaceRun(dir)
		if err != nil {
			return nil, err
		}
		if run.Info.PipelineVersion != faces.PipelineVersion {
			return nil, fmt.Errorf("%s was trained on descriptors of face pipeline %q, this starid makes %q; train a new run",
				dir, run.Info.PipelineVersion, faces.PipelineVersion)
		}
		// The nets load up front so that a missing model fails at start,
		// not on the first upload.
		finder, err := openFaceFinder()
		if err != nil {
			return nil, err
		}
		return &faceRecognizer{run: run, finder: finder, rule: run.Rule()}, nil
	}
	run, err := runs.OpenRun(dir)
	if err != nil {
		return nil, err
	}
	r := &photoRecognizer{run: run, tf: transformFor(run.Info)}
	switch run.Info.Crop {
	case "", "none":
	case "face", "aligned":
		// Trained on face crops: cut (or align) each face found the way
		// training did.
		if r.finder, err = openFaceFinder(); err != nil {
			return nil, err
		}
	default:
		return nil, checkCrop(run.Info)
	}
	return r, nil
}

// faceRecognizer names faces with a face run.
type faceRecognizer struct {
	run    *identify.FaceRun
	finder faceFinder
	rule   identify.Rule
	mu     sync.Mutex // the head's Linear reuses its output buffer
}

func (r *faceRecognizer) Info() serve.ModelInfo {
	return serve.ModelInfo{Classes: r.run.Model.Classes, Kind: runs.ModelFace, Threshold: r.rule.MaxDistance}
}

func (r *faceRecognizer) Recognize(ctx context.Context, img *faces.Image) ([]serve.Face, error) {
	found, err := r.finder.Faces(img)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]serve.Face, 0, len(found))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range found {
		a := r.run.Model.Identify(f.Descriptor, r.rule, serveTopK)
		sf := serve.Face{
			Box:        [4]int{int(math.Round(f.Box.X)), int(math.Round(f.Box.Y)), int(math.Round(f.Box.W)), int(math.Round(f.Box.H))},
			Name:       a.Name,
			Confidence: a.Probability,
			Unknown:    a.Class == eval.Unknown,
		}
		for _, c := range a.Top {
			sf.Top = append(sf.Top, serve.Candidate{Name: c.Name, Probability: c.Probability})
		}
		out = append(out, sf)
	}
	return out, nil
}

// photoRecognizer names photos with a VGG run: the whole photo as one
// "face", or, for a run trained with --crop face or aligned, each face's
// crop or aligned chip.
type photoRecognizer struct {
	run    *runs.Run
	tf     data.Transform
	finder faceFinder // nil unless the run was trained on face crops
	mu     sync.Mutex // the network's layers own their buffers
	x      *tensor.Tensor
}

func (r *photoRecognizer) Info() serve.ModelInfo {
	var t float64
	if r.run.Info.Unknown != nil {
		t = *r.run.Info.Unknown
	}
	return serve.ModelInfo{Classes: r.run.Info.Classes, Kind: r.run.Info.Model, Threshold: t}
}

func (r *photoRecognizer) Recognize(ctx context.Context, img *faces.Image) ([]serve.Face, error) {
	var found []faces.Face
	if r.finder != nil {
		var err error
		if found, err = r.finder.Faces(img); err != nil {
			return nil, err
		}
	}
	rgba := toRGBA(img)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var threshold float64
	if t := r.run.Info.Unknown; t != nil {
		threshold = *t
	}
	r.x = tensor.Reuse(r.x, 1, 3, r.tf.Size, r.tf.Size)
	if len(found) == 0 {
		// No face (or a whole-photo model): the photo is the answer's box.
		f, err := predictRegion(r.run, r.tf, r.x, rgba, rgba.Rect, serveTopK, threshold)
		if err != nil {
			return nil, err
		}
		return []serve.Face{toServeFace(f)}, nil
	}
	out := make([]serve.Face, 0, len(found))
	for _, face := range found {
		b := face.Box
		src, crop := rgba, train.CropAround(faceBox(b.X, b.Y, b.W, b.H), rgba.Rect, r.run.Info.CropMargin)
		if r.run.Info.Crop == "aligned" {
			chip, err := alignedChipOf(img, facePoints(face.Landmarks), r.run.Info.CropMargin, runChipSide(r.run.Info))
			if err != nil {
				return nil, err
			}
			src, crop = chip, chip.Rect
		}
		f, err := predictRegion(r.run, r.tf, r.x, src, crop, serveTopK, threshold)
		if err != nil {
			return nil, err
		}
		f.Box = roundBox(b.X, b.Y, b.W, b.H)
		out = append(out, toServeFace(f))
	}
	return out, nil
}

func toServeFace(f faceName) serve.Face {
	sf := serve.Face{Box: f.Box, Name: f.Name, Confidence: f.Confidence, Unknown: f.Name == eval.UnknownName}
	for _, c := range f.Top {
		sf.Top = append(sf.Top, serve.Candidate{Name: c.Name, Probability: c.Probability})
	}
	return sf
}

// toRGBA turns the server's decoded photo back into the image type the
// whole-photo transform reads.
func toRGBA(m *faces.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		out.Pix[4*i] = uint8(m.Pix[3*i])
		out.Pix[4*i+1] = uint8(m.Pix[3*i+1])
		out.Pix[4*i+2] = uint8(m.Pix[3*i+2])
		out.Pix[4*i+3] = 255
	}
	return out
}
