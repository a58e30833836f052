package recognize

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
	"starid/internal/train"
)

// Describing is how the commands describe photos: one describer and
// descriptor cache for face runs and for the face crops of VGG runs, so a
// photo is described once whatever command meets it first, and all of them
// cut the same region of it (facecrop.Around with the margin in
// model.json) or the same aligned chip (AlignedChip with the padding and
// chip size in model.json).
type Describing struct {
	Describer identify.Describer
	Cache     *identify.Cache // nil: uncached
	Workers   int             // 0: one per core
	// Progress receives the notes, and a progress bar when it is a
	// terminal (nil: neither).
	Progress io.Writer
}

// Photos describes the photos at paths (cache keys keys, nil for the
// paths) with a progress display, says how much the cache answered when
// count is set, and turns missing face models into the error. landmarks
// asks for every face's landmarks (aligned crops), describing again photos
// whose cache entry predates them.
func (d Describing) Photos(ctx context.Context, paths, keys []string, landmarks, count bool) ([]identify.Photo, error) {
	bar := progress.New(d.Progress, 0, "describing faces")
	defer bar.Finish()
	opt := identify.DescribeOptions{Cache: d.Cache, Workers: d.Workers, Progress: bar.Func(), Landmarks: landmarks}
	if d.Progress != nil {
		notes := bar.Writer(d.Progress)
		opt.Note = func(msg string) { fmt.Fprintln(notes, msg) }
	}
	photos, st, err := identify.Describe(ctx, d.Describer, paths, keys, opt)
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if le := (*identify.LoadError)(nil); errors.As(ph.Err, &le) {
			return nil, le
		}
	}
	if count && len(paths) > 1 && d.Progress != nil {
		again := ""
		if st.Unmarked > 0 {
			again = fmt.Sprintf(" (%d described again: their cache entries had no landmarks)", st.Unmarked)
		}
		fmt.Fprintf(d.Progress, "faces: %d photos, %d computed, %d from the cache%s\n", len(paths), st.Computed, st.Cached, again)
	}
	return photos, nil
}

// CropFinder is the train.FaceFinder of VGG face-crop runs: the largest
// face of each photo, with its landmarks when asked. Missing face models
// stop the command; a photo that cannot be described is reported in its
// FaceFind.
func (d Describing) CropFinder() train.FaceFinder {
	return func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		photos, err := d.Photos(ctx, paths, keys, landmarks, true)
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

// AlignedChip is the train.ChipMaker of aligned-crop runs
// (facecrop.AlignedChip on the loader's decoded photo).
func AlignedChip(img *image.RGBA, lm []faces.Point, padding float64, side int) (*image.RGBA, error) {
	return facecrop.AlignedChip(faces.FromImage(img), lm, padding, side)
}
