package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"starid/internal/eval/runeval"
	"starid/internal/identify"
	"starid/internal/train"
)

func init() {
	register("eval", "accuracy, top-5, loss, per-class scores and confusion matrix of a run", runEval)
}

// runEval evaluates a run's best weights.
//
// Without --data it uses the run's own test split (RUN/split.json, mapped
// back onto the training folder) and writes RUN/confusion.png and
// RUN/confusion.json. With --data DIR it evaluates every image in DIR, whose
// class folders must all be classes of the run (a folder may hold only some
// of them); its pictures then go to RUN/eval-<folder name>/ so that the
// test-split results are not overwritten. --out overrides the folder in
// both cases.
func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "eval [RUN] [--data DIR] [--out DIR] [--batch 32] [--json] [--threshold T] [--strangers excluded|NAME,...|DIR] [--cache DIR] [--workers N]", stderr)
	dataDir := fs.String("data", "", "evaluate on this image folder instead of the run's test split")
	outDir := fs.String("out", "", "folder for confusion.png and confusion.json (default RUN, or RUN/eval-NAME with --data)")
	batch := fs.Int("batch", 32, "images per forward pass")
	workers := fs.Int("workers", 0, "image-decoding goroutines (0: one per core)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	threshold := fs.Float64("threshold", -1, "unknown threshold instead of the run's: the descriptor distance for face runs, the top probability otherwise")
	strangers := fs.String("strangers", "", "face runs: people the run does not know: \"excluded\" (train --exclude), class folders of the training data (NAME,NAME) or a folder of photos")
	cacheDir := fs.String("cache", "", "face runs and --crop face or aligned runs: "+cacheHelp)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("want one run directory (or none and --data DIR for the built-in model), got %d arguments", len(pos))
	}
	if *batch < 1 {
		return usagef("--batch must be positive")
	}
	if *workers < 0 {
		return usagef("--workers %d: must be 0 (one per core) or more", *workers)
	}
	if flagGiven(fs, "threshold") && !(*threshold >= 0) {
		return usagef("--threshold %v: must be 0 or more", *threshold)
	}
	// The cache is opened only for runs that describe photos.
	var cache *identify.Cache
	cacheOpened := false
	openCache := func() *identify.Cache {
		if !cacheOpened {
			cache, cacheOpened = descriptorCache(*cacheDir, stderr), true
		}
		return cache
	}
	opt := runeval.Options{Data: *dataDir, Out: *outDir, Batch: *batch, Workers: *workers, Strangers: *strangers,
		Note: func(msg string) { fmt.Fprintln(stderr, msg) }}
	opt.FindFaces = func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		return cropFaceFinder(openCache(), *workers, stderr)(ctx, paths, keys, landmarks)
	}
	if flagGiven(fs, "threshold") {
		opt.Threshold = threshold
	}
	opt.Describe = func(ctx context.Context, paths, keys []string) ([]identify.Photo, error) {
		photos, _, err := identify.Describe(ctx, newDescriber(), paths, keys, identify.DescribeOptions{
			Cache: openCache(), Workers: *workers, Progress: stderr, Terminal: isTerminal(stderr)})
		return photos, err
	}
	res, err := evalModel(pos, opt, stderr)
	if err != nil {
		return err
	}
	if err := runeval.WriteOutputs(res); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "skipped %s: %s\n", s.Path, s.Reason)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
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
