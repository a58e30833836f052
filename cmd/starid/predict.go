package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/facecrop"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/runs"
)

func init() { addCommand(newPredictCmd) }

type predictOptions struct {
	top       int
	json      bool
	threshold float64
	cache     string
}

func newPredictCmd() *cobra.Command {
	var o predictOptions
	c := &cobra.Command{
		Use:   "predict RUN IMAGE...",
		Short: "name the star in each photo, with probabilities",
		RunE: func(c *cobra.Command, args []string) error {
			th, err := threshold(c.Flags(), o.threshold)
			if err != nil {
				return err
			}
			return runPredict(args, o, th, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.IntVar(&o.top, "top", 5, "how many names to list per photo, best first")
	f.BoolVar(&o.json, "json", false, "print JSON")
	thresholdFlag(f, &o.threshold)
	cacheFlag(f, &o.cache, "face runs and --crop face or aligned runs: ")
	return c
}

// runPredict names the person in each photo. A photo that cannot be read
// gets an error entry and the others are still predicted; the exit status
// is then 2.
func runPredict(pos []string, o predictOptions, threshold *float64, stdout, stderr io.Writer) error {
	if len(pos) < 2 {
		return usagef("want a run directory and at least one image")
	}
	if o.top < 1 {
		return usagef("--top must be at least 1")
	}
	opt := recognize.Options{TopK: o.top, Threshold: threshold}
	// No finder: predict finds faces through the descriptor cache.
	r, err := recognize.Open(pos[0], opt)
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
		d := describing(descriptorCache(o.cache, stderr), 0, stderr)
		if photos, err = d.Photos(context.Background(), pos[1:], nil, info.Crop == facecrop.Aligned, info.Kind != runs.ModelFace); err != nil {
			return err
		}
	}
	var each func(recognize.Prediction)
	if !o.json {
		print := recognize.TextPrinter(info)
		each = func(p recognize.Prediction) { print(stdout, stderr, p) }
	}
	out, failed := recognize.PredictAll(context.Background(), r, pos[1:], photos, each)
	return finishPredict(out, failed, o.json, stdout)
}

// finishPredict prints the JSON form and turns unreadable images into the
// exit status.
func finishPredict(out []recognize.Prediction, failed int, asJSON bool, stdout io.Writer) error {
	if asJSON {
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(out))
	}
	return nil
}
