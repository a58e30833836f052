package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/progress"
	"starid/internal/recognize"
	"starid/internal/runs"
	"starid/internal/train"
)

// Face crops for VGG runs (--crop face and --crop aligned): train, eval,
// predict and serve find faces with the same describer and descriptor
// cache as face runs, so a photo is described once whatever command meets
// it first, and all of them cut the same region of it (facecrop.Around
// with the margin in model.json) or the same aligned chip (alignedChip
// with the padding and chip size in model.json).

// cropFaceFinder is the train.FaceFinder of the command line: identify.Describe
// through the descriptor cache, the largest face of each photo, with its
// landmarks when asked. Missing face models stop the command; a photo that
// cannot be described is reported in its FaceFind.
func cropFaceFinder(cache *identify.Cache, workers int, stderr io.Writer) train.FaceFinder {
	return func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		photos, err := describePhotos(ctx, cache, workers, paths, keys, landmarks, true, stderr)
		if err != nil {
			return nil, err
		}
		out := make([]train.FaceFind, len(photos))
		for i, ph := range photos {
			switch f := ph.Largest(); {
			case ph.Err != nil:
				out[i].Err = ph.Err
			case f == nil:
			case landmarks && len(f.Landmarks) != faces.NumLandmarks:
				out[i].Err = fmt.Errorf("%s: the face pipeline gave %d landmarks, want %d", ph.Path, len(f.Landmarks), faces.NumLandmarks)
			default:
				out[i] = train.FaceFind{Box: f.Box, Found: true}
				if landmarks {
					out[i].Landmarks = f.Landmarks
				}
			}
		}
		return out, nil
	}
}

// describePhotos runs identify.Describe with a progress display and says
// how much the cache answered, then turns missing face models into the
// command's error. landmarks asks for every face's landmarks (aligned
// crops), describing again photos whose cache entry predates them; count
// prints the cache's share.
func describePhotos(ctx context.Context, cache *identify.Cache, workers int, paths, keys []string, landmarks, count bool,
	stderr io.Writer) ([]identify.Photo, error) {
	bar := progress.New(stderr, 0, "describing faces")
	defer bar.Finish()
	photos, st, err := identify.Describe(ctx, newDescriber(), paths, keys, identify.DescribeOptions{
		Cache: cache, Workers: workers, Progress: bar.Func(), Landmarks: landmarks,
		Note: func(msg string) { fmt.Fprintln(bar.Writer(stderr), msg) }})
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if le := (*identify.LoadError)(nil); errors.As(ph.Err, &le) {
			return nil, le
		}
	}
	if count && len(paths) > 1 {
		again := ""
		if st.Unmarked > 0 {
			again = fmt.Sprintf(" (%d described again: their cache entries had no landmarks)", st.Unmarked)
		}
		fmt.Fprintf(stderr, "faces: %d photos, %d computed, %d from the cache%s\n", len(paths), st.Computed, st.Cached, again)
	}
	return photos, nil
}

// alignedChip is the train.ChipMaker of the command line
// (facecrop.AlignedChip on the loader's decoded photo).
func alignedChip(img *image.RGBA, lm []faces.Point, padding float64, side int) (*image.RGBA, error) {
	return facecrop.AlignedChip(faces.FromImage(img), lm, padding, side)
}

// warnPipeline tells when a crop run's faces were found by another face
// pipeline than this starid's (recognize.PipelineWarning).
func warnPipeline(info runs.ModelInfo, stderr io.Writer) {
	if w := recognize.PipelineWarning(info); w != "" {
		fmt.Fprintln(stderr, w)
	}
}

// checkRunCrop refuses runs whose preprocessing eval and predict cannot
// repeat.
func checkRunCrop(info runs.ModelInfo) error {
	if _, err := facecrop.ParseMode(string(info.Crop)); err == nil {
		return nil
	}
	return fmt.Errorf("the run was trained on %q crops, which this starid cannot make", info.Crop)
}
