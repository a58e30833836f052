package train

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/models"
	"starid/internal/runs"
)

// Config is a VGG run's settings (runs.Settings, stored in model.json)
// plus the face hooks that crop runs need and that cannot be stored.
type Config struct {
	runs.Settings

	// FaceBoxes finds the faces for Crop "face". It is a hook rather than
	// a setting because finding faces needs the face pipeline, which is
	// built on this package; the command line fills it with the cached
	// face describer. It is not stored: a resumed run is given it again.
	FaceBoxes FaceFinder `json:"-"`
	// AlignChip cuts the aligned chips of Crop "aligned", a hook for the
	// same reason as FaceBoxes (the alignment is the face pipeline's).
	AlignChip ChipMaker `json:"-"`
	// FacePipeline names the face pipeline behind FaceBoxes; crop=face runs
	// record it in model.json (PipelineVersion), so that eval and predict
	// can tell when their boxes may differ from the ones trained on.
	FacePipeline string `json:"-"`
}

// DefaultConfig is the command-line contract's defaults: the tutorial's
// recipe (Adam 1e-4, 0.92 every 4 epochs, batch 32, 40 epochs, 80/20).
func DefaultConfig() Config {
	return Config{Settings: runs.Settings{
		Size: 224, Width: 1, Epochs: 40, Batch: 32, Optimizer: "adam", LR: 1e-4, Momentum: 0.9,
		Schedule: "step:0.92:4", TrainFrac: 0.8, Seed: 1, Crop: facecrop.None, CropMargin: facecrop.DefaultMargin,
	}}
}

// errFaceModels is the answer for face settings that reach the VGG trainer:
// face runs are trained by internal/identify, which the command line calls
// instead.
var errFaceModels = errors.New("is trained by the face pipeline (internal/identify), not by train.Train")

// validate checks the settings before anything touches the disk: the
// VGG's own (model, crop, size, penalties, width), then those every
// trainer shares (runs.Settings.CheckTraining).
func (c *Config) validate() error {
	if err := c.CheckPaths(); err != nil {
		return err
	}
	mode, err := facecrop.ParseMode(string(c.Crop))
	if err != nil {
		return err
	}
	c.Crop = mode
	switch {
	case c.Model == "":
		return errors.New("no model given (--model)")
	case c.Model == "face":
		return fmt.Errorf("--model face %w", errFaceModels)
	case c.Crop.FindsFaces() && !(c.CropMargin >= 0 && c.CropMargin <= facecrop.MaxMargin):
		return fmt.Errorf("--crop-margin %v: must be between 0 and %v", c.CropMargin, facecrop.MaxMargin)
	case c.Size < 8 || c.Size > runs.MaxSize:
		return fmt.Errorf("--size %d: must be between 8 and %d pixels", c.Size, runs.MaxSize)
	case !(c.L1 >= 0 && c.L2 >= 0) || math.IsInf(c.L1, 0) || math.IsInf(c.L2, 0):
		return fmt.Errorf("--l1 %v / --l2 %v: must be >= 0", c.L1, c.L2)
	}
	if !c.Crop.FindsFaces() {
		// A margin means nothing without face crops; keeping it out of
		// model.json leaves whole-photo runs as they always were.
		c.CropMargin = 0
	}
	if c.Width == 0 {
		c.Width = 1
	}
	if !(c.Width > 0 && c.Width <= models.MaxWidth) {
		return fmt.Errorf("--width %v: must be above 0 and at most %v", c.Width, models.MaxWidth)
	}
	if _, err := lookupSpec(c.Model, 2, c.Width); err != nil {
		return err
	}
	return c.CheckTraining()
}

// testModels holds specs that only tests can ask for by name, so the suite
// can train a network small enough to take milliseconds per epoch.
var testModels = map[string]func(classes int) models.Spec{}

// lookupSpec finds a model by name among the real and the test models;
// width scales the real ones.
func lookupSpec(name string, classes int, width float64) (models.Spec, error) {
	if f, ok := testModels[name]; ok {
		return f(classes), nil
	}
	return models.ByNameWidth(name, classes, cmp.Or(width, 1)) // 0: a run from before --width
}

// setting is one compared field: its flag name and its value as text.
type setting struct{ flag, value string }

func (c *Config) settings() []setting {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := []setting{
		{"data", filepath.Clean(c.Data)},
		{"model", c.Model},
		{"width", f(cmp.Or(c.Width, 1))}, // runs from before --width were full width and lack it
		{"size", strconv.Itoa(c.Size)},
		{"batch", strconv.Itoa(c.Batch)},
		{"optimizer", c.Optimizer},
		{"lr", f(c.LR)},
		{"schedule", c.Schedule},
		{"weight-decay", f(c.WeightDecay)},
		{"l1", f(c.L1)},
		{"l2", f(c.L2)},
		{"train-frac", f(c.TrainFrac)},
		{"seed", strconv.FormatUint(c.Seed, 10)},
		{"augment", strconv.FormatBool(c.Augment)},
		{"crop", string(c.Crop)},
	}
	// Momentum means nothing to Adam; comparing it would refuse a resume
	// over a value that cannot change the weights.
	if c.Optimizer == "sgd" {
		s = append(s, setting{"momentum", f(c.Momentum)})
	}
	if c.Crop.FindsFaces() {
		s = append(s, setting{"crop-margin", f(c.CropMargin)})
	}
	return s
}

// mergeForResume checks the requested settings against the stored run's
// and returns the settings to continue with: the stored ones, with the
// epoch count, workers and output directory taken from the request. A
// difference in anything that changes the weights is an error naming every
// differing flag with both values.
func mergeForResume(stored, req Config) (Config, error) {
	given := func(flag string) bool { return req.Given == nil || slices.Contains(req.Given, flag) }
	have := map[string]string{}
	for _, s := range stored.settings() {
		have[s.flag] = s.value
	}
	var diffs []string
	for _, s := range req.settings() {
		if s.flag != "data" && !given(s.flag) {
			continue
		}
		if old, ok := have[s.flag]; !ok || old != s.value {
			diffs = append(diffs, fmt.Sprintf("--%s: run has %q, flags say %q", s.flag, old, s.value))
		}
	}
	if len(diffs) > 0 {
		return Config{}, fmt.Errorf("%s was trained with different settings; --resume needs the same ones (or leave them out):\n\t%s",
			req.Out, strings.Join(diffs, "\n\t"))
	}
	out := stored
	out.Out, out.Resume, out.Workers, out.Given = req.Out, true, req.Workers, req.Given
	out.FaceBoxes, out.AlignChip = req.FaceBoxes, req.AlignChip
	if given("epochs") {
		out.Epochs = req.Epochs
	}
	return out, nil
}

// CheckConfig reports the first setting Train would refuse before it
// touches the disk, so a command line can tell a usage error from an input
// that cannot be used.
func CheckConfig(c Config) error { return c.validate() }

// FaceFind is what a FaceFinder reports for one photo.
type FaceFind struct {
	Box   faces.Box // the largest face, when Found
	Found bool      // false: no face was found (the whole photo is used)
	Err   error     // the photo could not be searched (it is skipped)
	// Landmarks are the face's 68 landmarks (iBUG 300-W order) when they
	// were asked for.
	Landmarks []faces.Point
}

// FaceFinder finds the largest face of each photo: one FaceFind per path,
// in order. keys[i] is the SHA-256 (hex) of paths[i] as the scan computed
// it, which lets a cache answer without reading the photo; keys may be
// nil. With landmarks, every face found comes with its 68 landmarks (a
// face whose landmarks cannot be had is an Err), which crop=aligned runs
// need and crop=face runs do not: asking for them may describe photos
// again whose cached answer lacks them. A returned error stops the run (no
// face models, cancellation); problems with single photos belong in
// FaceFind.Err.
type FaceFinder func(ctx context.Context, paths, keys []string, landmarks bool) ([]FaceFind, error)

// ChipMaker cuts the aligned chip of one face out of img: side x side
// pixels, the face turned, scaled and moved so that its landmarks fit the
// chip template with the given padding (faces.AlignedChip with
// faces.ChipTemplate(side, padding)).
type ChipMaker func(img *image.RGBA, landmarks []faces.Point, padding float64, side int) (*image.RGBA, error)

// FaceWarper is the data.LoaderOptions.Warp of a crop=aligned run: sample
// i becomes chip(img, found[i].Landmarks), a sample without a face is used
// whole (as with FaceCropper), and a sample whose search failed fails with
// that error, so the loader skips it.
func FaceWarper(found map[int]FaceFind, chip func(img *image.RGBA, landmarks []faces.Point) (*image.RGBA, error)) func(sample int, img *image.RGBA) (*image.RGBA, error) {
	return func(i int, img *image.RGBA) (*image.RGBA, error) {
		f, ok := found[i]
		switch {
		case !ok:
			return nil, fmt.Errorf("no face search was made for sample %d", i)
		case f.Err != nil:
			return nil, f.Err
		case !f.Found:
			return img, nil
		}
		return chip(img, f.Landmarks)
	}
}

// FaceCropper is the data.LoaderOptions.Crop of a crop=face run: sample i
// is cut to facecrop.Around of found[i] with margin, a sample without a face is
// used whole (as training did), and a sample whose search failed fails
// with that error, so the loader skips it.
func FaceCropper(found map[int]FaceFind, margin float64) func(sample int, img *image.RGBA) (image.Rectangle, error) {
	return func(i int, img *image.RGBA) (image.Rectangle, error) {
		f, ok := found[i]
		switch {
		case !ok:
			return image.Rectangle{}, fmt.Errorf("no face search was made for sample %d", i)
		case f.Err != nil:
			return image.Rectangle{}, f.Err
		case !f.Found:
			return img.Rect, nil
		}
		return facecrop.Around(f.Box, img.Rect, margin), nil
	}
}
