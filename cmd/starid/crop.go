package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/train"
)

// Face crops for VGG runs (--crop face): train, eval and predict find faces
// with the same describer and descriptor cache as face runs, so a photo is
// described once whatever command meets it first, and all three cut the
// same region of it (train.CropAround with the margin in model.json).

// cropFaceFinder is the train.FaceFinder of the command line: identify.Describe
// through the descriptor cache, the largest face of each photo. Missing
// face models stop the command; a photo that cannot be described is
// reported in its FaceFind.
func cropFaceFinder(cache *identify.Cache, workers int, stderr io.Writer) train.FaceFinder {
	return func(ctx context.Context, paths, keys []string) ([]train.FaceFind, error) {
		photos, err := describePhotos(ctx, cache, workers, paths, keys, stderr)
		if err != nil {
			return nil, err
		}
		out := make([]train.FaceFind, len(photos))
		for i, ph := range photos {
			switch f := ph.Largest(); {
			case ph.Err != nil:
				out[i].Err = ph.Err
			case f != nil:
				out[i] = train.FaceFind{Box: faceBox(f.Box.X, f.Box.Y, f.Box.W, f.Box.H), Found: true}
			}
		}
		return out, nil
	}
}

// describePhotos runs identify.Describe with a progress display and says
// how much the cache answered, then turns missing face models into the
// command's error.
func describePhotos(ctx context.Context, cache *identify.Cache, workers int, paths, keys []string, stderr io.Writer) ([]identify.Photo, error) {
	photos, st, err := identify.Describe(ctx, newDescriber(), paths, keys, identify.DescribeOptions{
		Cache: cache, Workers: workers, Progress: stderr, Terminal: isTerminal(stderr),
		Note: func(msg string) { fmt.Fprintln(stderr, msg) }})
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if le := (*identify.LoadError)(nil); errors.As(ph.Err, &le) {
			return nil, le
		}
	}
	if len(paths) > 1 {
		fmt.Fprintf(stderr, "faces: %d photos, %d computed, %d from the cache\n", len(paths), st.Computed, st.Cached)
	}
	return photos, nil
}

func faceBox(x, y, w, h float64) train.FaceBox { return train.FaceBox{X: x, Y: y, W: w, H: h} }

// roundBox is a box as whole pixels [x, y, w, h], as predict prints it.
func roundBox(x, y, w, h float64) [4]int {
	return [4]int{int(math.Round(x)), int(math.Round(y)), int(math.Round(w)), int(math.Round(h))}
}

// warnPipeline tells when a crop=face run's faces were found by another
// face pipeline than this starid's: its boxes, and so the crops, may then
// differ a little from the ones the run was trained and tested on.
func warnPipeline(info train.ModelInfo, stderr io.Writer) {
	if info.Crop == "face" && info.PipelineVersion != faces.PipelineVersion {
		fmt.Fprintf(stderr, "warning: the run's face crops came from face pipeline %q, this starid has %q; crops may differ slightly from training's\n",
			info.PipelineVersion, faces.PipelineVersion)
	}
}

// checkRunCrop refuses runs whose preprocessing eval and predict cannot
// repeat.
func checkRunCrop(info train.ModelInfo) error {
	switch info.Crop {
	case "", "none", "face":
		return nil
	}
	return fmt.Errorf("the run was trained on %q crops, which this starid cannot make", info.Crop)
}
