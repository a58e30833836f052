package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/progress"
	"starid/internal/recognize"
	"starid/internal/runs"
)

func init() { addCommand(newPredictCmd) }

type predictOptions struct {
	top       int
	json, csv bool
	threshold float64
	cache     string
	out       string
	detector  faces.DetectorChoice
}

func newPredictCmd() *cobra.Command {
	var o predictOptions
	c := command("predict [RUN] IMAGE|DIR...", "name the star in each photo, with probabilities", withThreshold(&o.threshold, func(c *cobra.Command, args []string, th *float64) error {
		return runPredict(args, o, th, c.OutOrStdout(), c.ErrOrStderr())
	}))
	c.Long = `Name the faces in each photo with a run's model, or, when the first
argument is not a run folder (one with a model.json), with the built-in
model of the tutorial's 17 stars (or your copy of it that enroll made).
Folders are searched for photos at any depth (by extension; other files are
skipped). A photo that cannot be read gets an error entry, the others are
still named, and the exit status is then 2.`
	f := c.Flags()
	f.IntVar(&o.top, "top", 5, "how many names to list per photo, best first")
	f.BoolVar(&o.json, "json", false, "print JSON (docs/cli.md)")
	f.BoolVar(&o.csv, "csv", false, "print CSV, one row per face")
	thresholdFlag(f, &o.threshold)
	cacheFlag(f, &o.cache, "face runs and --crop face or aligned runs: ")
	f.StringVar(&o.out, "out", "", "also draw each photo's faces with their names into this `folder` (NAME.png)")
	detectorFlag(f, &o.detector)
	return c
}

// runPredict names the person in each photo. A photo that cannot be read
// gets an error entry and the others are still predicted; the exit status
// is then 2.
func runPredict(pos []string, o predictOptions, threshold *float64, stdout, stderr io.Writer) error {
	if len(pos) < 1 {
		return usagef("want at least one image (after a run directory, to use it instead of the built-in model)")
	}
	if o.top < 1 {
		return usagef("--top must be at least 1")
	}
	if o.json && o.csv {
		return usagef("--json and --csv: choose one")
	}
	drawer := &recognize.NameDrawer{Dir: o.out}
	if err := drawer.CheckDir(); err != nil {
		return usagef("--out: %v", err)
	}
	opt := recognize.Options{TopK: o.top, Threshold: threshold}
	// No finder: predict finds faces through the descriptor cache.
	r, images, err := recognize.OpenArgs(pos, opt)
	if err != nil {
		return err
	}
	if len(images) == len(pos) {
		fmt.Fprintln(stderr, recognize.DefaultNote(r))
	}
	if len(images) == 0 {
		return usagef("want at least one image after the run directory")
	}
	for _, img := range images {
		if runs.IsRun(img) {
			// Otherwise it is "a folder without photos" and the photos
			// are silently named by another model than the one meant.
			return usagef("%s is a run folder: give it first, before the photos, to name them with its model", img)
		}
	}
	paths, err := data.ListPhotos(images)
	if err != nil {
		return err
	}
	info := r.Info()
	if info.Warning != "" {
		fmt.Fprintln(stderr, info.Warning)
	}
	var photos []identify.Photo
	if r.FindsFaces() {
		// Face runs print no cache count: it is about the crops.
		d := describing(o.cache, 0, o.detector, stderr)
		if photos, err = d.Photos(context.Background(), paths, nil, info.Crop == facecrop.Aligned, info.Kind != runs.ModelFace); err != nil {
			return err
		}
	}
	bar := progress.New(stderr, len(paths), "naming photos") // drawn on a terminal only
	defer bar.Finish()
	each := func(recognize.Prediction) { bar.Add(1) }
	if !o.json && !o.csv {
		print, so, se := recognize.TextPrinter(info), bar.Writer(stdout), bar.Writer(stderr)
		each = func(p recognize.Prediction) { print(so, se, p); bar.Add(1) }
	}
	out, failed := recognize.PredictAll(context.Background(), r, paths, photos, drawer.Wrap(each))
	if err := drawer.Finish(stderr); err != nil {
		return err
	}
	return o.finish(out, failed, stdout)
}

// finish prints the JSON or CSV form and turns unreadable images into the
// exit status.
func (o *predictOptions) finish(out []recognize.Prediction, failed int, stdout io.Writer) error {
	var err error
	switch {
	case o.json:
		err = writeJSON(stdout, out)
	case o.csv:
		err = recognize.WriteCSV(stdout, out)
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("%d of %d images could not be read", failed, len(out))
	}
	return err
}
