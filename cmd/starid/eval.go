package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/eval/runeval"
	"starid/internal/identify"
	"starid/internal/train"
)

func init() { addCommand(newEvalCmd) }

type evalOptions struct {
	data, out, strangers, cache string
	batch, workers              int
	json                        bool
	threshold                   float64
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	c := &cobra.Command{
		Use:   "eval RUN",
		Short: "accuracy, top-5, loss, per-class scores and confusion matrix of a run",
		Long: `Evaluate a run's best weights.

Without --data it uses the run's own test split (RUN/split.json, mapped back
onto the training folder) and writes RUN/confusion.png and RUN/confusion.json.
With --data DIR it evaluates every image in DIR, whose class folders must all
be classes of the run (a folder may hold only some of them); its pictures then
go to RUN/eval-<folder name>/ so that the test-split results are not
overwritten. --out overrides the folder in both cases.`,
		RunE: func(c *cobra.Command, args []string) error {
			th, err := threshold(c.Flags(), o.threshold)
			if err != nil {
				return err
			}
			return o.run(args, th, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.data, "data", "", "evaluate on this image `folder` instead of the run's test split")
	f.StringVar(&o.out, "out", "", "`folder` for confusion.png and confusion.json (default RUN, or RUN/eval-NAME with --data)")
	f.IntVar(&o.batch, "batch", 32, "images per forward pass")
	workersFlag(f, &o.workers, "image-decoding")
	f.BoolVar(&o.json, "json", false, "print JSON instead of tables")
	thresholdFlag(f, &o.threshold)
	f.StringVar(&o.strangers, "strangers", "", "face runs: people the run does not know: \"excluded\" (train --exclude), class folders of the training data (NAME,NAME) or a folder of photos")
	cacheFlag(f, &o.cache, "face runs and --crop face or aligned runs: ")
	return c
}

func (o *evalOptions) run(pos []string, threshold *float64, stdout, stderr io.Writer) error {
	if len(pos) != 1 {
		return usagef("want exactly one run directory, got %d arguments", len(pos))
	}
	if o.batch < 1 {
		return usagef("--batch must be positive")
	}
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	// The cache is opened only for runs that describe photos.
	var cache *identify.Cache
	cacheOpened := false
	openCache := func() *identify.Cache {
		if !cacheOpened {
			cache, cacheOpened = descriptorCache(o.cache, stderr), true
		}
		return cache
	}
	opt := runeval.Options{Data: o.data, Out: o.out, Batch: o.batch, Workers: o.workers, Strangers: o.strangers, Threshold: threshold,
		Note: func(msg string) { fmt.Fprintln(stderr, msg) }}
	opt.FindFaces = func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		return describing(openCache(), o.workers, stderr).CropFinder()(ctx, paths, keys, landmarks)
	}
	opt.Describe = func(ctx context.Context, paths, keys []string) ([]identify.Photo, error) {
		photos, _, err := identify.Describe(ctx, newDescriber(), paths, keys, identify.DescribeOptions{
			Cache: openCache(), Workers: o.workers, Progress: stderr, Terminal: isTerminal(stderr)})
		return photos, err
	}
	res, err := runeval.Run(pos[0], opt)
	if err != nil {
		return err
	}
	if err := runeval.WriteOutputs(res); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %s\n", s.Path, s.Reason)
	}
	if o.json {
		return writeJSON(stdout, res)
	}
	printMetrics(stdout, res)
	return nil
}

func printMetrics(w io.Writer, r *runeval.Result) {
	where := r.Data
	if r.Split != "" {
		where = "the " + r.Split + " split of " + r.Data
	}
	fmt.Fprintf(w, "%d images from %s\n", r.N, where)
	fmt.Fprintf(w, "accuracy %.1f%%   top-5 %.1f%%   loss %.4f", 100*r.Accuracy, 100*r.Top5, r.Loss)
	if r.Unknown > 0 {
		fmt.Fprintf(w, "   unknown %d", r.Unknown)
	}
	fmt.Fprintln(w)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "%d images skipped (listed on stderr)\n", len(r.Skipped))
	}
	width := len("macro average")
	for _, c := range r.Classes {
		width = max(width, len(c))
	}
	fmt.Fprintf(w, "\n%-*s  %9s  %6s  %6s  %7s  %9s\n", width, "class", "precision", "recall", "f1", "support", "predicted")
	for _, c := range r.Classes {
		m := r.PerClass[c]
		fmt.Fprintf(w, "%-*s  %8.1f%%  %5.1f%%  %5.1f%%  %7d  %9d\n", width, c, 100*m.Precision, 100*m.Recall, 100*m.F1, m.Support, m.Predicted)
	}
	fmt.Fprintf(w, "%-*s  %8.1f%%  %5.1f%%  %5.1f%%  %7d\n", width, "macro average", 100*r.Macro.Precision, 100*r.Macro.Recall, 100*r.Macro.F1, r.N)
	if c := r.FaceCrop; c != nil {
		what := fmt.Sprintf("face crops (margin %g)", c.Margin)
		if c.Aligned {
			what = fmt.Sprintf("aligned faces (padding %g, %dx%d chips)", c.Margin, c.ChipSize, c.ChipSize)
		}
		fmt.Fprintf(w, "\n%s: %d photo(s) without a face found were shown whole, as in training\n", what, c.NoFace)
	}
	if f := r.FaceResult; f != nil {
		fmt.Fprintf(w, "\nface run: %d photo(s) without a face found (counted as errors); known faces answered unknown: %.1f%% (threshold %.3f)\n",
			f.NoFace, 100*f.UnknownRate, f.Threshold)
		if s := f.Strangers; s != nil {
			fmt.Fprintf(w, "strangers (%s): %d of %d answered unknown (%.1f%%, %d without a face)", s.Source, s.Rejected, s.N,
				100*s.RejectedRate, s.NoFace)
			if len(s.NamedAs) > 0 {
				fmt.Fprintf(w, "; wrongly named: %s", countList(s.NamedAs))
			}
			fmt.Fprintf(w, "\nFAR/FRR curve: %s\n", s.DETPNG)
		}
	}
	fmt.Fprintf(w, "\nconfusion matrix: %s, %s\n", filepath.Join(r.Out, runeval.ConfusionPNG), filepath.Join(r.Out, runeval.ConfusionJSON))
}

// countList prints name counts as "A 4, B 1" (most first, then by name)
// rather than Go's map syntax.
func countList(m map[string]int) string {
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}
