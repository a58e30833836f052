package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/nn"
	"starid/internal/recognize"
	"starid/internal/report"
	"starid/internal/runs"
	"starid/internal/tensor"
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
	*faceEval
	FaceCrop *faceCropEval `json:"face_crop,omitempty"` // crop=face and crop=aligned VGG runs
}

// faceCropEval is what `eval` adds for VGG runs trained on face crops.
type faceCropEval struct {
	Margin float64 `json:"margin"` // crop=aligned: the chip padding
	// Aligned and ChipSize describe crop=aligned runs' chips.
	Aligned  bool `json:"aligned,omitempty"`
	ChipSize int  `json:"chip_size,omitempty"`
	// NoFace counts photos without a face found: like training, eval
	// shows the model the whole photo (so they are not errors by rule).
	NoFace      int      `json:"no_face"`
	NoFaceFiles []string `json:"no_face_files,omitempty"`
}

// faceEval is what `eval` adds for face runs.
type faceEval struct {
	// NoFace counts photos in which no face was found: each is an error
	// (predicted "unknown" in the confusion matrix).
	NoFace      int      `json:"no_face"`
	NoFaceFiles []string `json:"no_face_files,omitempty"`
	// UnknownRate is the share of photos with a face that the rule
	// answered "unknown": known people wrongly rejected.
	UnknownRate float64 `json:"unknown_rate"`
	Threshold   float64 `json:"unknown_threshold"`
	MinProb     float64 `json:"min_probability"`
	// Strangers, with --strangers: people the run was not taught.
	Strangers *strangerResult `json:"strangers,omitempty"`
}

// strangerResult is how the unknown rule treats people the run does not
// know. A stranger is rejected when answered "unknown" or when no face is
// found (either way nobody is misnamed).
type strangerResult struct {
	Source       string         `json:"source"`
	N            int            `json:"n"`
	Rejected     int            `json:"rejected"`
	RejectedRate float64        `json:"rejected_rate"`
	NoFace       int            `json:"no_face"`
	NamedAs      map[string]int `json:"named_as,omitempty"` // wrong names given to strangers, with counts
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
	fs := newFlagSet("eval", "eval RUN [--data DIR] [--out DIR] [--batch 32] [--json] [--threshold T] [--strangers excluded|NAME,...|DIR] [--cache DIR] [--workers N]", stderr)
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
	if len(pos) != 1 {
		return usagef("want exactly one run directory, got %d arguments", len(pos))
	}
	if *batch < 1 {
		return usagef("--batch must be positive")
	}
	if *workers < 0 {
		return usagef("--workers %d: must be 0 (one per core) or more", *workers)
	}
	thresholdSet := flagGiven(fs, "threshold")
	if thresholdSet && !(*threshold >= 0) {
		return usagef("--threshold %v: must be 0 or more", *threshold)
	}
	run, err := runs.OpenRun(pos[0])
	if err != nil {
		return err
	}
	if run.Info.Model == runs.ModelFace {
		opt := faceEvalOptions{data: *dataDir, out: *outDir, workers: *workers, asJSON: *asJSON, thresholdSet: thresholdSet,
			threshold: *threshold, strangers: *strangers, cache: descriptorCache(*cacheDir, stderr)}
		return evalFaces(pos[0], opt, stdout, stderr)
	}
	if *strangers != "" {
		return usagef("--strangers applies to face runs only")
	}
	if err := checkRunCrop(run.Info); err != nil {
		return err
	}
	warnPipeline(run.Info, stderr)
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
	if thresholdSet {
		acc.Threshold = *threshold
	}
	lo := data.LoaderOptions{Workers: *workers}
	switch run.Info.Crop {
	case facecrop.Face:
		if lo.Crop, res.FaceCrop, err = evalFaceCrops(run.Info, ds, indices, descriptorCache(*cacheDir, stderr), *workers, stderr); err != nil {
			return err
		}
	case facecrop.Aligned:
		if lo.Warp, res.FaceCrop, err = evalAlignedChips(run.Info, ds, indices, descriptorCache(*cacheDir, stderr), *workers, stderr); err != nil {
			return err
		}
	}
	loader := data.NewLoader(ds, indices, recognize.Transform(run.Info), *batch, lo)
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
	return finishEval(res, *asJSON, stdout, stderr)
}

// finishEval writes the confusion files and prints the results.
func finishEval(res evalResult, asJSON bool, stdout, stderr io.Writer) error {
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
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printMetrics(stdout, res)
	return nil
}

type faceEvalOptions struct {
	data, out, strangers string
	workers              int
	asJSON, thresholdSet bool
	threshold            float64
	cache                *identify.Cache
}

// evalFaces evaluates a face run on its test split (or --data): the
// largest face of each photo is named under the run's unknown rule; a
// photo with no face found counts as an error (an "unknown" answer). Loss
// and top-5 are over the photos with a face for the loss and over all
// photos for top-5 (a photo without a face is a miss).
func evalFaces(dir string, opt faceEvalOptions, stdout, stderr io.Writer) error {
	run, err := identify.OpenFaceRun(dir)
	if err != nil {
		return err
	}
	if run.Info.PipelineVersion != faces.PipelineVersion {
		return fmt.Errorf("%s was trained on descriptors of face pipeline %q, this starid makes %q; train a new run",
			dir, run.Info.PipelineVersion, faces.PipelineVersion)
	}
	rule := run.Rule()
	if opt.thresholdSet {
		rule.MaxDistance = opt.threshold
	}
	classes := run.Model.Classes
	res := evalResult{Out: opt.out, faceEval: &faceEval{Threshold: rule.MaxDistance, MinProb: rule.MinProbability}}
	var ds *data.Dataset
	var indices []int
	if opt.data == "" {
		split, err := data.ReadSplit(filepath.Join(run.Dir, runs.SplitFile))
		if err != nil {
			return err
		}
		if ds, err = scanFolder(run.Info.Data); err != nil {
			return fmt.Errorf("%w (the run's training folder; use --data to evaluate elsewhere)", err)
		}
		_, test, err := split.Indices(ds)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(run.Dir, runs.SplitFile), err)
		}
		// Test photos of classes left out with --exclude are strangers,
		// not errors; --strangers excluded evaluates them.
		for _, i := range test {
			if slices.Contains(classes, ds.Classes[ds.Samples[i].Class]) {
				indices = append(indices, i)
			}
		}
		res.Split = "test"
		if res.Out == "" {
			res.Out = run.Dir
		}
	} else {
		if ds, err = scanFolder(opt.data); err != nil {
			return err
		}
		if err := checkSubset(ds.Classes, classes, opt.data); err != nil {
			return err
		}
		for i := range ds.Samples {
			indices = append(indices, i)
		}
		if res.Out == "" {
			res.Out = filepath.Join(run.Dir, "eval-"+filepath.Base(filepath.Clean(opt.data)))
		}
	}
	if len(indices) == 0 {
		return fmt.Errorf("no images to evaluate in %s", ds.Root)
	}
	res.Data = ds.Root
	res.Skipped = append(res.Skipped, ds.Skipped...)
	photos, err := describeSamples(ds, indices, opt, stderr)
	if err != nil {
		return err
	}
	k := len(classes)
	acc := eval.NewAccumulator(classes)
	logits := tensor.New(1, k)
	prob := make([]float64, k)
	var lossSum float64
	described, top5, rejected := 0, 0, 0
	for r, ph := range photos {
		if ph.Err != nil {
			res.Skipped = append(res.Skipped, skippedFrom(ph.Err))
			continue
		}
		y := slices.Index(classes, ds.Classes[ds.Samples[indices[r]].Class])
		pred := eval.Unknown
		if f := ph.Largest(); f == nil {
			res.NoFace++
			res.NoFaceFiles = append(res.NoFaceFiles, ph.Path)
			// Any scores will do: the loss and top-5 are recomputed below
			// without this photo's.
			logits.Zero()
		} else {
			a := run.Model.Identify(f.Descriptor, rule, 1)
			copy(logits.Data, a.Logits)
			pred = a.Class
			lossSum += nn.SoftmaxRow(prob, a.Logits) - float64(a.Logits[y])
			if eval.Rank(a.Logits, y) < 5 {
				top5++
			}
			if pred == eval.Unknown {
				rejected++
			}
			described++
		}
		if err := acc.AddPredicted(logits, []int{y}, []int{pred}); err != nil {
			return err
		}
	}
	if acc.N() == 0 {
		return fmt.Errorf("none of the %d images in %s could be read", len(indices), ds.Root)
	}
	res.Metrics = acc.Metrics()
	res.Top5 = float64(top5) / float64(res.N)
	res.Loss = 0
	if described > 0 {
		res.Loss = lossSum / float64(described)
		res.UnknownRate = float64(rejected) / float64(described)
	}
	if opt.strangers != "" {
		if res.Strangers, err = evalStrangers(run, rule, opt, stderr); err != nil {
			return err
		}
	}
	return finishEval(res, opt.asJSON, stdout, stderr)
}

// describeSamples describes the listed samples through the cache.
func describeSamples(ds *data.Dataset, indices []int, opt faceEvalOptions, stderr io.Writer) ([]identify.Photo, error) {
	paths, keys := make([]string, len(indices)), make([]string, len(indices))
	for r, i := range indices {
		paths[r], keys[r] = ds.Samples[i].Path, ds.Samples[i].SHA256
	}
	photos, _, err := identify.Describe(context.Background(), newDescriber(), paths, keys, identify.DescribeOptions{
		Cache: opt.cache, Workers: opt.workers, Progress: stderr, Terminal: isTerminal(stderr)})
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if le := (*identify.LoadError)(nil); errors.As(ph.Err, &le) {
			return nil, le
		}
	}
	return photos, nil
}

// evalStrangers answers --strangers: "excluded" (the classes the run left
// out of training), NAME,NAME (class folders of the run's training data
// the run does not know) or a folder of class folders.
func evalStrangers(run *identify.FaceRun, rule identify.Rule, opt faceEvalOptions, stderr io.Writer) (*strangerResult, error) {
	res := &strangerResult{Source: opt.strangers, NamedAs: map[string]int{}}
	var ds *data.Dataset
	var names []string
	var err error
	if fi, serr := os.Stat(opt.strangers); serr == nil && fi.IsDir() {
		if ds, err = scanFolder(opt.strangers); err != nil {
			return nil, err
		}
		names = ds.Classes
	} else {
		if opt.strangers == "excluded" {
			names = run.Face.Excluded
			if len(names) == 0 {
				return nil, usagef("--strangers excluded: %s was trained without --exclude; name class folders or give a folder", run.Dir)
			}
		} else {
			names = strings.Split(opt.strangers, ",")
		}
		if ds, err = scanFolder(run.Info.Data); err != nil {
			return nil, fmt.Errorf("--strangers: %w", err)
		}
		for _, n := range names {
			if !slices.Contains(ds.Classes, n) {
				return nil, usagef("--strangers: %s has no class folder %q", ds.Root, n)
			}
		}
	}
	for _, n := range names {
		if slices.Contains(run.Model.Classes, n) {
			return nil, usagef("--strangers: %q is a person the run knows, not a stranger", n)
		}
	}
	var indices []int
	for i, smp := range ds.Samples {
		if slices.Contains(names, ds.Classes[smp.Class]) {
			indices = append(indices, i)
		}
	}
	if len(indices) == 0 {
		return nil, fmt.Errorf("--strangers %s: no photos", opt.strangers)
	}
	photos, err := describeSamples(ds, indices, opt, stderr)
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if ph.Err != nil {
			fmt.Fprintf(stderr, "skipped stranger photo %s: %v\n", ph.Path, ph.Err)
			continue
		}
		res.N++
		f := ph.Largest()
		if f == nil {
			res.NoFace++
			res.Rejected++
			continue
		}
		if a := run.Model.Identify(f.Descriptor, rule, 1); a.Class == eval.Unknown {
			res.Rejected++
		} else {
			res.NamedAs[a.Name]++
		}
	}
	if res.N > 0 {
		res.RejectedRate = float64(res.Rejected) / float64(res.N)
	}
	return res, nil
}

// testSplit maps RUN/split.json's test files back onto the training folder.
func testSplit(run *runs.Run) (*data.Dataset, []int, error) {
	splitPath := filepath.Join(run.Dir, runs.SplitFile)
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

// evalFaceCrops finds the faces of the samples to evaluate and returns the
// loader's crop, which cuts them as training did, and the count of photos
// without a face (shown whole, as in training).
func evalFaceCrops(info runs.ModelInfo, ds *data.Dataset, indices []int, cache *identify.Cache, workers int,
	stderr io.Writer) (func(int, *image.RGBA) (image.Rectangle, error), *faceCropEval, error) {
	found, res, err := findEvalFaces(info, ds, indices, cache, workers, false, stderr)
	if err != nil {
		return nil, nil, err
	}
	return train.FaceCropper(found, info.CropMargin), res, nil
}

// evalAlignedChips is evalFaceCrops for crop=aligned runs: the loader's
// warp cuts each photo's main face into the chip training cut (same
// landmarks, padding and chip side), a photo without a face stays whole.
func evalAlignedChips(info runs.ModelInfo, ds *data.Dataset, indices []int, cache *identify.Cache, workers int,
	stderr io.Writer) (func(int, *image.RGBA) (*image.RGBA, error), *faceCropEval, error) {
	found, res, err := findEvalFaces(info, ds, indices, cache, workers, true, stderr)
	if err != nil {
		return nil, nil, err
	}
	side, padding := recognize.ChipSide(info), info.CropMargin
	res.Aligned, res.ChipSize = true, side
	return train.FaceWarper(found, func(img *image.RGBA, lm []faces.Point) (*image.RGBA, error) {
		return alignedChip(img, lm, padding, side)
	}), res, nil
}

// findEvalFaces finds the main face of each sample (with its landmarks
// when asked) and counts the photos without one.
func findEvalFaces(info runs.ModelInfo, ds *data.Dataset, indices []int, cache *identify.Cache, workers int, landmarks bool,
	stderr io.Writer) (map[int]train.FaceFind, *faceCropEval, error) {
	paths, keys := make([]string, len(indices)), make([]string, len(indices))
	for r, i := range indices {
		paths[r], keys[r] = ds.Samples[i].Path, ds.Samples[i].SHA256
	}
	finds, err := cropFaceFinder(cache, workers, stderr)(context.Background(), paths, keys, landmarks)
	if err != nil {
		return nil, nil, err
	}
	res := &faceCropEval{Margin: info.CropMargin}
	found := make(map[int]train.FaceFind, len(indices))
	for r, i := range indices {
		found[i] = finds[r]
		if finds[r].Err == nil && !finds[r].Found {
			res.NoFace++
			res.NoFaceFiles = append(res.NoFaceFiles, paths[r])
		}
	}
	return found, res, nil
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
	if c := r.FaceCrop; c != nil {
		what := fmt.Sprintf("face crops (margin %g)", c.Margin)
		if c.Aligned {
			what = fmt.Sprintf("aligned faces (padding %g, %dx%d chips)", c.Margin, c.ChipSize, c.ChipSize)
		}
		fmt.Fprintf(w, "\n%s: %d photo(s) without a face found were shown whole, as in training\n", what, c.NoFace)
	}
	if f := r.faceEval; f != nil {
		fmt.Fprintf(w, "\nface run: %d photo(s) without a face found (counted as errors); known faces answered unknown: %.1f%% (threshold %.3f)\n",
			f.NoFace, 100*f.UnknownRate, f.Threshold)
		if s := f.Strangers; s != nil {
			fmt.Fprintf(w, "strangers (%s): %d of %d answered unknown (%.1f%%, %d without a face)", s.Source, s.Rejected, s.N,
				100*s.RejectedRate, s.NoFace)
			if len(s.NamedAs) > 0 {
				fmt.Fprintf(w, "; wrongly named: %v", s.NamedAs)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nconfusion matrix: %s, %s\n", filepath.Join(r.Out, confusionPNG), filepath.Join(r.Out, confusionJSON))
}
