package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"starid/internal/eval/runeval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/train"
)

func init() { addCommand(newEvalCmd) }

type evalOptions struct {
	data, out, strangers, cache string
	batch, workers              int
	json, csv                   bool
	threshold                   float64
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	c := command("eval [RUN]", "accuracy, top-5, loss, per-class scores and confusion matrix of a run", withThreshold(&o.threshold, func(c *cobra.Command, args []string, th *float64) error {
		return o.run(args, th, c.OutOrStdout(), c.ErrOrStderr())
	}))
	c.Long = `Evaluate a run's best weights.

Without --data it uses the run's own test split (RUN/split.json, mapped back
onto the training folder) and writes RUN/confusion.png and RUN/confusion.json.
With --data DIR it evaluates every image in DIR, whose class folders must all
be classes of the run (a folder may hold only some of them); its pictures then
go to RUN/eval-<folder name>/ so that the test-split results are not
overwritten. --out overrides the folder in both cases.

Without a run, --data DIR evaluates the built-in model (or your copy of it
that enroll made); its pictures go to eval-<folder name>/ in the current
folder unless --out says otherwise.`
	f := c.Flags()
	f.StringVar(&o.data, "data", "", "evaluate on this image `folder` instead of the run's test split")
	f.StringVar(&o.out, "out", "", "`folder` for confusion.png and confusion.json (default RUN, or RUN/eval-NAME with --data)")
	f.IntVar(&o.batch, "batch", 32, "images per forward pass")
	workersFlag(f, &o.workers, "image-decoding")
	f.BoolVar(&o.json, "json", false, "print JSON instead of tables (docs/cli.md)")
	f.BoolVar(&o.csv, "csv", false, "print the per-class table as CSV")
	thresholdFlag(f, &o.threshold)
	f.StringVar(&o.strangers, "strangers", "", "face runs: people the run does not know: \"excluded\" (train --exclude), class folders of the training data (NAME,NAME) or a folder of photos")
	cacheFlag(f, &o.cache, "face runs and --crop face or aligned runs: ")
	return c
}

func (o *evalOptions) run(pos []string, threshold *float64, stdout, stderr io.Writer) error {
	if len(pos) > 1 {
		return usagef("want one run directory (or none and --data DIR for the built-in model), got %d arguments", len(pos))
	}
	if o.batch < 1 {
		return usagef("--batch must be positive")
	}
	if err := checkWorkers(&o.workers, stderr); err != nil {
		return err
	}
	if o.json && o.csv {
		return usagef("--json and --csv: choose one")
	}
	// The cache is opened only for runs that describe photos.
	d := sync.OnceValue(func() recognize.Describing { return describing(o.cache, o.workers, faces.AutoDetector, stderr) })
	opt := runeval.Options{Data: o.data, Out: o.out, Batch: o.batch, Workers: o.workers, Strangers: o.strangers, Threshold: threshold,
		Note: func(msg string) { fmt.Fprintln(stderr, msg) },
		FindFaces: func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
			return d().CropFinder()(ctx, paths, keys, landmarks)
		},
		Describe: func(ctx context.Context, paths, keys []string) ([]identify.Photo, error) {
			return d().Photos(ctx, paths, keys, false, false)
		}}
	res, err := runeval.RunArgs(pos, opt)
	if err != nil {
		return err
	}
	if err := runeval.WriteOutputs(res); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %s\n", s.Path, s.Reason)
	}
	switch {
	case o.json:
		return writeJSON(stdout, res)
	case o.csv:
		return res.WriteCSV(stdout)
	}
	return res.WriteText(stdout)
}
