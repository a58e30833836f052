package main

import (
	"context"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/recognize"
	"starid/internal/serve"
)

// serveTopK is how many candidates the server lists per face (the page
// shows three).
const serveTopK = 5

// openRunRecognizer serves a run directory through recognize.Open: a face
// run names every face the pipeline finds; a whole-photo VGG run names the
// photo as one "face" whose box is the whole photo, as predict does. The
// face nets load up front so that a missing model fails at start, not on
// the first upload.
func openRunRecognizer(dir string) (serve.Recognizer, error) {
	r, err := recognize.Open(dir, recognize.Options{TopK: serveTopK, OpenFinder: openRecognizeFinder})
	if err != nil {
		return nil, err
	}
	return serveRecognizer{r}, nil
}

func openRecognizeFinder() (recognize.Finder, error) { return openFaceFinder() }

// serveRecognizer gives the server's interface to a recognize.Recognizer.
type serveRecognizer struct{ r recognize.Recognizer }

func (s serveRecognizer) Info() serve.ModelInfo {
	i := s.r.Info()
	return serve.ModelInfo{Classes: i.Classes, Kind: i.Kind, Threshold: i.Threshold}
}

func (s serveRecognizer) Recognize(ctx context.Context, img *faces.Image) ([]serve.Face, error) {
	found, err := s.r.Recognize(ctx, recognize.FromFaces(img))
	if err != nil {
		return nil, err
	}
	return serveFaces(found), nil
}

// serveFaces gives the server's form of recognized faces.
func serveFaces(found []recognize.Face) []serve.Face {
	out := make([]serve.Face, 0, len(found))
	for _, f := range found {
		sf := serve.Face{Box: recognize.RoundBox(f.Box), Name: f.Name, Confidence: f.Confidence,
			Unknown: f.Unknown || f.Name == eval.UnknownName}
		for _, c := range f.Top {
			sf.Top = append(sf.Top, serve.Candidate{Name: c.Name, Probability: c.Probability})
		}
		out = append(out, sf)
	}
	return out
}
