package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/report"
	"starid/internal/train"
)

func init() {
	register("eval", "accuracy, top-5, loss, per-class scores and confusion matrix of a run", runEval)
}

// Files eval writes.
const (
	confusionPNG  = "confusion.png"
	confusionJSON = "confusion.json"
)

// evalResult is `eval --json`: the metrics plus where they came from.
type evalResult struct {
	eval.Metrics
	Data    string         `json:"data"`              // the folder the images came from
	Split   string         `json:"split,omitempty"`   // "test" when the run's own split was used
	Skipped []data.Skipped `json:"skipped,omitempty"` // images that could not be used
	Out     string         `json:"out"`               // folder holding confusion.png and confusion.json
}

// confusionFile is confusion.json: rows are true classes, columns predicted.
type confusionFile struct {
	Classes   []string `json:"classes"`
	Columns   []string `json:"columns"`
	Confusion [][]int  `json:"confusion"`
	N         int      `json:"n"`
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
	fs := newFlagSet("eval", "eval RUN [--data DIR] [--out DIR] [--batch 32] [--json]", stderr)
	dataDir := fs.String("data", "", "evaluate on this image folder instead of the run's test split")
	outDir := fs.String("out", "", "folder for confusion.png and confusion.json (default RUN, or RUN/eval-NAME with --data)")
	batch := fs.Int("batch", 32, "images per forward pass")
	workers := fs.Int("workers", 0, "image-decoding goroutines (0: one per core)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one run directory, got %d arguments", len(pos))
	}
	if *batch < 1 {
		return usagef("--batch must be positive")
	}
	if *workers < 0 {
		return usagef("--workers %d: must be 0 (one per core) or more", *workers)
	}
	run, err := train.OpenRun(pos[0])
	if err != nil {
		return err
	}
	if err := checkCrop(run.Info); err != nil {
		return err
	}
	res := evalResult{Out: *outDir}
	var ds *data.Dataset
	var indices []int
	if *dataDir == "" {
		ds, indices, err = testSplit(run)
		res.Split = "test"
		if res.Out == "" {
			res.Out = run.Dir
		}
	} else {
		ds, err = scanFolder(*dataDir)
		if err == nil {
			err = checkSubset(ds.Classes, run.Info.Classes, *dataDir)
		}
		indices = make([]int, 0)
		if ds != nil {
			for i := range ds.Samples {
				indices = append(indices, i)
			}
		}
		if res.Out == "" {
			res.Out = filepath.Join(run.Dir, "eval-"+filepath.Base(filepath.Clean(*dataDir)))
		}
	}
	if err != nil {
		return err
	}
	if len(indices) == 0 {
		return fmt.Errorf("no images to evaluate in %s", ds.Root)
	}
	res.Data = ds.Root
	res.Skipped = append(res.Skipped, ds.Skipped...)

	// Folder class index -> run class index, by name.
	toRun := make([]int, len(ds.Classes))
	for i, c := range ds.Classes {
		toRun[i] = slices.Index(run.Info.Classes, c)
	}
	acc := eval.NewAccumulator(run.Info.Classes)
	if run.Info.Unknown != nil {
		acc.Threshold = *run.Info.Unknown
	}
	loader := data.NewLoader(ds, indices, transformFor(run.Info), *batch, data.LoaderOptions{Workers: *workers})
	labels := make([]int, 0, *batch)
	for b, err := range loader.Epoch(false, nil) {
		if err != nil {
			// An image that became unreadable since the scan: note it and
			// go on, as training does.
			res.Skipped = append(res.Skipped, skippedFrom(err))
			continue
		}
		logits, err := run.Model.Forward(b.X)
		if err != nil {
			return err
		}
		labels = labels[:0]
		for _, y := range b.Labels {
			labels = append(labels, toRun[y])
		}
		if err := acc.Add(logits, labels); err != nil {
			return err
		}
	}
	if acc.N() == 0 {
		return fmt.Errorf("none of the %d images in %s could be read", len(indices), ds.Root)
	}
	res.Metrics = acc.Metrics()

	if err := os.MkdirAll(res.Out, 0o755); err != nil {
		return err
	}
	if err := report.ConfusionPNG(res.Confusion, res.Classes, filepath.Join(res.Out, confusionPNG)); err != nil {
		return err
	}
	cj, err := json.MarshalIndent(confusionFile{res.Classes, res.Columns, res.Confusion, res.N}, "", "  ")
	if err != nil {
		return err
	}
	if err := report.WriteFileAtomic(filepath.Join(res.Out, confusionJSON), append(cj, '\n')); err != nil {
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

// testSplit maps RUN/split.json's test files back onto the training folder.
func testSplit(run *train.Run) (*data.Dataset, []int, error) {
	splitPath := filepath.Join(run.Dir, train.SplitFile)
	split, err := data.ReadSplit(splitPath)
	if err != nil {
		return nil, nil, err
	}
	ds, err := scanFolder(run.Info.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the run's training folder; use --data to evaluate elsewhere)", err)
	}
	if !slices.Equal(ds.Classes, run.Info.Classes) {
		return nil, nil, fmt.Errorf("%s now has classes %s, the run was trained on %s",
			ds.Root, strings.Join(ds.Classes, ", "), strings.Join(run.Info.Classes, ", "))
	}
	_, test, err := split.Indices(ds)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", splitPath, err)
	}
	return ds, test, nil
}

func scanFolder(dir string) (*data.Dataset, error) {
	return data.Scan(dir, data.ScanOptions{})
}

// checkSubset accepts a folder whose classes are all known to the model.
func checkSubset(folder, model []string, dir string) error {
	var unknown []string
	for _, c := range folder {
		if !slices.Contains(model, c) {
			unknown = append(unknown, c)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%s has classes the model does not know: %s (the model knows %s)",
			dir, strings.Join(unknown, ", "), strings.Join(model, ", "))
	}
	return nil
}

// transformFor is the evaluation preprocessing a run was trained with.
func transformFor(info train.ModelInfo) data.Transform {
	return data.Transform{Size: info.Size, Mean: info.Mean, Std: info.Std}
}

// checkCrop refuses runs that need preprocessing starid cannot do yet.
func checkCrop(info train.ModelInfo) error {
	if info.Crop != "" && info.Crop != "none" {
		return fmt.Errorf("the run was trained on %q crops, which this starid cannot make yet", info.Crop)
	}
	return nil
}

func skippedFrom(err error) data.Skipped {
	var ie *data.ImageError
	var se *data.SampleError
	switch {
	case errors.As(err, &ie):
		return data.Skipped{Path: ie.Path, Reason: ie.Reason}
	case errors.As(err, &se):
		return data.Skipped{Path: se.Path, Reason: se.Err.Error()}
	}
	return data.Skipped{Reason: err.Error()}
}

func printMetrics(w io.Writer, r evalResult) {
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
	fmt.Fprintf(w, "\nconfusion matrix: %s, %s\n", filepath.Join(r.Out, confusionPNG), filepath.Join(r.Out, confusionJSON))
}
