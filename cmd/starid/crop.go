package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
	"starid/internal/train"
)

// Face crops for VGG runs (--crop face and --crop aligned): train, eval,
// predict and serve find faces with the same describer and descriptor
// cache as face runs, so a photo is described once whatever command meets
// it first, and all of them cut the same region of it (train.CropAround
// with the margin in model.json) or the same aligned chip (alignedChip
// with the padding and chip size in model.json).

// cropFaceFinder is the train.FaceFinder of the command line: identify.Describe
// through the descriptor cache, the largest face of each photo, with its
// landmarks when asked. Missing face models stop the command; a photo that
// cannot be described is reported in its FaceFind.
func cropFaceFinder(cache *identify.Cache, workers int, stderr io.Writer) train.FaceFinder {
	return func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		photos, err := describePhotos(ctx, cache, workers, paths, keys, landmarks, stderr)
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
				out[i] = train.FaceFind{Box: faceBox(f.Box.X, f.Box.Y, f.Box.W, f.Box.H), Found: true}
				if landmarks {
					out[i].Landmarks = facePoints(f.Landmarks)
				}
			}
		}
		return out, nil
	}
}

// describePhotos runs identify.Describe with a progress display and says
// how much the cache answered, then turns missing face models into the
// command's error. landmarks asks for every face's landmarks (aligned
// crops), describing again photos whose cache entry predates them.
func describePhotos(ctx context.Context, cache *identify.Cache, workers int, paths, keys []string, landmarks bool,
	stderr io.Writer) ([]identify.Photo, error) {
	photos, st, err := identify.Describe(ctx, newDescriber(), paths, keys, identify.DescribeOptions{
		Cache: cache, Workers: workers, Progress: stderr, Terminal: isTerminal(stderr), Landmarks: landmarks,
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
		again := ""
		if st.Unmarked > 0 {
			again = fmt.Sprintf(" (%d described again: their cache entries had no landmarks)", st.Unmarked)
		}
		fmt.Fprintf(stderr, "faces: %d photos, %d computed, %d from the cache%s\n", len(paths), st.Computed, st.Cached, again)
	}
	return photos, nil
}

// facePoints turns the pipeline's landmarks into train's plain points.
func facePoints(lm []faces.Point) []train.FacePoint {
	out := make([]train.FacePoint, len(lm))
	for i, p := range lm {
		out[i] = train.FacePoint{X: p.X, Y: p.Y}
	}
	return out
}

// alignedChip is the train.ChipMaker of the command line: the face
// pipeline's own similarity alignment (faces.AlignedChip: eye and mouth
// centres onto the template) with dlib's chip geometry at the run's
// padding, the chip rounded back to 8-bit RGB for the loader's resize.
func alignedChip(img *image.RGBA, lm []train.FacePoint, padding float64, side int) (*image.RGBA, error) {
	return alignedChipOf(faces.FromImage(img), lm, padding, side)
}

// alignedChipOf is alignedChip for a photo already in the pipeline's
// format (the server's).
func alignedChipOf(img *faces.Image, lm []train.FacePoint, padding float64, side int) (*image.RGBA, error) {
	pts := make([]faces.Point, len(lm))
	for i, p := range lm {
		pts[i] = faces.Point{X: p.X, Y: p.Y}
	}
	chip, err := faces.AlignedChip(img, pts, faces.ChipTemplate(side, padding), nil)
	if err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, chip.W, chip.H))
	for i := 0; i < chip.W*chip.H; i++ {
		for c := range 3 {
			out.Pix[4*i+c] = uint8(min(max(math.Round(float64(chip.Pix[3*i+c])), 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}

// runChipSide is the chip side of an aligned run: the one its model.json
// records (runs always record it; the fallback is the rule they used).
func runChipSide(info runs.ModelInfo) int {
	if info.ChipSize > 0 {
		return info.ChipSize
	}
	return train.AlignedChipSide(info.Size)
}

// faceCropped says whether a VGG run was trained on faces found by the
// face pipeline (cut or aligned), so that its photos must be described.
func faceCropped(info runs.ModelInfo) bool { return info.Crop == "face" || info.Crop == "aligned" }

func faceBox(x, y, w, h float64) train.FaceBox { return train.FaceBox{X: x, Y: y, W: w, H: h} }

// roundBox is a box as whole pixels [x, y, w, h], as predict prints it.
func roundBox(x, y, w, h float64) [4]int {
	return [4]int{int(math.Round(x)), int(math.Round(y)), int(math.Round(w)), int(math.Round(h))}
}

// warnPipeline tells when a crop=face run's faces were found by another
// face pipeline than this starid's: its boxes, and so the crops, may then
// differ a little from the ones the run was trained and tested on.
func warnPipeline(info runs.ModelInfo, stderr io.Writer) {
	if faceCropped(info) && info.PipelineVersion != faces.PipelineVersion {
		fmt.Fprintf(stderr, "warning: the run's face crops came from face pipeline %q, this starid has %q; crops may differ slightly from training's\n",
			info.PipelineVersion, faces.PipelineVersion)
	}
}

// checkRunCrop refuses runs whose preprocessing eval and predict cannot
// repeat.
func checkRunCrop(info runs.ModelInfo) error {
	switch info.Crop {
	case "", "none", "face", "aligned":
		return nil
	}
	return fmt.Errorf("the run was trained on %q crops, which this starid cannot make", info.Crop)
}
