// Package runeval evaluates a trained run: on its own test split (the
// files split.json kept out of training, found again in the training
// folder), on another folder of class folders, and, for face runs, on
// strangers (people the run was not taught). It returns the metrics of
// package eval with what each kind of run adds; writing the confusion
// files is WriteConfusion's, printing is the command line's.
package runeval

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
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
	"starid/internal/recognize/defaultmodel"
	"starid/internal/report"
	"starid/internal/runs"
	"starid/internal/tensor"
	"starid/internal/train"
)

// Options say what to evaluate on and how.
type Options struct {
	Data      string   // a folder of class folders; "" for the run's test split
	Out       string   // the confusion files' folder; "" for RUN, or RUN/eval-NAME with Data
	Batch     int      // images per forward pass (VGG runs)
	Workers   int      // decoding goroutines (0: one per core)
	Threshold *float64 // replaces the run's unknown threshold
	Strangers string   // face runs: "excluded", NAME,NAME or a folder
	// Describe describes photos (paths, with their SHA-256 keys) through
	// the descriptor cache, for face runs.
	Describe func(ctx context.Context, paths, keys []string) ([]identify.Photo, error)
	// FindFaces is the face finder of crop runs (as training was given).
	FindFaces train.FaceFinder
	// Note receives warnings and skipped stranger photos; nil discards.
	Note func(string)
	// Progress, when not nil, is told how many of a VGG run's photos have
	// been through the network (face runs report through Describe, crop
	// runs' face finding through FindFaces).
	Progress func(done, total int)
}

func (o Options) note(msg string) {
	if o.Note != nil {
		o.Note(msg)
	}
}

// UsageError is an error in what the caller asked for rather than in the
// inputs (the command line exits 1 for these).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// Run evaluates the run in dir.
func Run(dir string, opt Options) (*Result, error) {
	run, err := runs.OpenRun(dir)
	if err != nil {
		return nil, err
	}
	var res *Result
	if run.Info.Model == runs.ModelFace {
		res, err = faceRun(dir, opt)
	} else {
		res, err = vggRun(run, opt)
	}
	if err != nil {
		return nil, err
	}
	res.run, res.model = filepath.Base(filepath.Clean(dir)), run.Info.Model
	return res, nil
}

// title is confusion.png's title: the run and model, then the accuracy
// and what it was measured on.
func (r *Result) title() string {
	where := "in " + filepath.Base(r.Data)
	if r.Split != "" {
		where = "(" + r.Split + " split)"
	}
	return fmt.Sprintf("%s (%s)\naccuracy %.1f%% on %d photos %s", r.run, r.model, 100*r.Accuracy, r.N, where)
}

// Files WriteOutputs writes.
const (
	ConfusionPNG  = "confusion.png"
	ConfusionJSON = "confusion.json"
	DETPNG        = "det.png" // with --strangers
)

// WriteOutputs writes res.Out/confusion.png and confusion.json and, when
// strangers were evaluated, the DET curve (det.png).
func WriteOutputs(res *Result) error {
	if err := os.MkdirAll(res.Out, 0o755); err != nil {
		return err
	}
	if s := res.FaceResult; s != nil && s.Strangers != nil && len(s.Strangers.det) > 0 {
		title := fmt.Sprintf("%d strangers (%s) vs %d known photos", s.Strangers.N, s.Strangers.Source, res.N)
		if err := report.DET(s.Strangers.det, s.Strangers.op, title, s.Strangers.DETPNG); err != nil {
			return err
		}
	}
	if err := report.ConfusionPNG(res.Confusion, res.Classes, res.title(), filepath.Join(res.Out, ConfusionPNG)); err != nil {
		return err
	}
	cj, err := json.MarshalIndent(ConfusionFile{res.Classes, res.Columns, res.Confusion, res.N}, "", "  ")
	if err != nil {
		return err
	}
	return report.WriteFileAtomic(filepath.Join(res.Out, ConfusionJSON), append(cj, '\n'))
}

// Result is an evaluation (`eval --json`): the metrics plus where they came from.
type Result struct {
	eval.Metrics
	Data    string         `json:"data"`              // the folder the images came from
	Split   string         `json:"split,omitempty"`   // "test" when the run's own split was used
	Skipped []data.Skipped `json:"skipped,omitempty"` // images that could not be used
	Out     string         `json:"out"`               // folder holding confusion.png and confusion.json
	// run and model name the evaluated run in the pictures' titles.
	run, model string
	*FaceResult
	FaceCrop *FaceCropResult `json:"face_crop,omitempty"` // crop=face and crop=aligned VGG runs
}

// FaceCropResult is what `eval` adds for VGG runs trained on face crops.
type FaceCropResult struct {
	Margin float64 `json:"margin"` // crop=aligned: the chip padding
	// Aligned and ChipSize describe crop=aligned runs' chips.
	Aligned  bool `json:"aligned,omitempty"`
	ChipSize int  `json:"chip_size,omitempty"`
	// NoFace counts photos without a face found: like training, eval
	// shows the model the whole photo (so they are not errors by rule).
	NoFace      int      `json:"no_face"`
	NoFaceFiles []string `json:"no_face_files,omitempty"`
}

// FaceResult is what `eval` adds for face runs.
type FaceResult struct {
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
	Strangers *StrangerResult `json:"strangers,omitempty"`
}

// StrangerResult is how the unknown rule treats people the run does not
// know. A stranger is rejected when answered "unknown" or when no face is
// found (either way nobody is misnamed).
type StrangerResult struct {
	Source       string         `json:"source"`
	N            int            `json:"n"`
	Rejected     int            `json:"rejected"`
	RejectedRate float64        `json:"rejected_rate"`
	NoFace       int            `json:"no_face"`
	NamedAs      map[string]int `json:"named_as,omitempty"` // wrong names given to strangers, with counts
	// DETPNG is the FAR/FRR curve of the run's distance limit swept over
	// these strangers and the known test photos, with the run's own
	// operating point marked.
	DETPNG string `json:"det_png"`

	impostor []float64 // each stranger's Rule.Score
	det      []eval.DETPoint
	op       eval.DETPoint
}

// ConfusionFile is confusion.json: rows are true classes, columns predicted.
type ConfusionFile struct {
	Classes   []string `json:"classes"`
	Columns   []string `json:"columns"`
	Confusion [][]int  `json:"confusion"`
	N         int      `json:"n"`
}

// vggRun evaluates a VGG run's best weights through the loader, in
// batches, cutting faces as training did for crop runs.
func vggRun(run *runs.Run, opt Options) (*Result, error) {
	if opt.Strangers != "" {
		return nil, UsageError{"--strangers applies to face runs only"}
	}
	if _, err := facecrop.ParseMode(string(run.Info.Crop)); err != nil {
		return nil, fmt.Errorf("the run was trained on %q crops, which this starid cannot make", run.Info.Crop)
	}
	if w := recognize.PipelineWarning(run.Info); w != "" {
		opt.note(w)
	}
	res := Result{Out: opt.Out}
	ds, indices, err := samples(run.Dir, run.Info, run.Info.Classes, true, opt, &res)
	if err != nil {
		return nil, err
	}

	// Folder class index -> run class index, by name.
	toRun := make([]int, len(ds.Classes))
	for i, c := range ds.Classes {
		toRun[i] = slices.Index(run.Info.Classes, c)
	}
	acc := eval.NewAccumulator(run.Info.Classes)
	if run.Info.Unknown != nil {
		acc.Threshold = *run.Info.Unknown
	}
	if opt.Threshold != nil {
		acc.Threshold = *opt.Threshold
	}
	lo := data.LoaderOptions{Workers: opt.Workers}
	switch run.Info.Crop {
	case facecrop.Face:
		if lo.Crop, res.FaceCrop, err = FaceCrops(run.Info, ds, indices, opt); err != nil {
			return nil, err
		}
	case facecrop.Aligned:
		if lo.Warp, res.FaceCrop, err = AlignedChips(run.Info, ds, indices, opt); err != nil {
			return nil, err
		}
	}
	loader := data.NewLoader(ds, indices, recognize.Transform(run.Info), opt.Batch, lo)
	labels := make([]int, 0, opt.Batch)
	done := 0
	progress := func(n int) {
		done += n
		if opt.Progress != nil {
			opt.Progress(done, len(indices))
		}
	}
	for b, err := range loader.Epoch(false, nil) {
		if err != nil {
			// An image that became unreadable since the scan: note it and
			// go on, as training does.
			res.Skipped = append(res.Skipped, skippedFrom(err))
			progress(1)
			continue
		}
		logits, err := run.Model.Forward(b.X)
		if err != nil {
			return nil, err
		}
		labels = labels[:0]
		for _, y := range b.Labels {
			labels = append(labels, toRun[y])
		}
		if err := acc.Add(logits, labels); err != nil {
			return nil, err
		}
		progress(len(labels))
	}
	if acc.N() == 0 {
		return nil, fmt.Errorf("none of the %d images in %s could be read", len(indices), ds.Root)
	}
	res.Metrics = acc.Metrics()
	return &res, nil
}

// faceRun evaluates a face run on its test split (or --data): the
// largest face of each photo is named under the run's unknown rule; a
// photo with no face found counts as an error (an "unknown" answer). Loss
// and top-5 are over the photos with a face for the loss and over all
// photos for top-5 (a photo without a face is a miss).
func faceRun(dir string, opt Options) (*Result, error) {
	run, rule, err := identify.OpenForAnswers(dir, faces.PipelineVersion, opt.Threshold)
	if err != nil {
		return nil, err
	}
	return evalFaceRun(run, rule, opt)
}

// RunArgs is `starid eval [RUN]`: the run args names (Run), or with no
// argument the default model (RunDefault).
func RunArgs(args []string, opt Options) (*Result, error) {
	if len(args) == 0 {
		return RunDefault(opt)
	}
	return Run(args[0], opt)
}

// RunDefault evaluates the default model (the user's copy of the built-in
// model, or the built-in one) on opt.Data, which it needs: the built-in
// model keeps no split. The confusion files go to opt.Out, by default
// eval-NAME in the current folder for a folder NAME.
func RunDefault(opt Options) (*Result, error) {
	if opt.Data == "" {
		return nil, usagef("no run given: --data DIR evaluates the built-in model on a folder of photos (one sub-folder per person)")
	}
	run, src, err := defaultmodel.Open()
	if err != nil {
		return nil, err
	}
	opt.note("no run given: evaluating " + src.String())
	rule, err := run.AnswerRule(faces.PipelineVersion, opt.Threshold)
	if err != nil {
		return nil, defaultmodel.StaleCopy(src, err)
	}
	opt.Out = cmp.Or(opt.Out, "eval-"+filepath.Base(filepath.Clean(opt.Data)))
	return evalFaceRun(run, rule, opt)
}

// evalFaceRun is faceRun on an opened run and its rule.
func evalFaceRun(run *identify.FaceRun, rule identify.Rule, opt Options) (*Result, error) {
	classes := run.Model.Classes
	res := Result{Out: opt.Out, FaceResult: &FaceResult{Threshold: rule.MaxDistance, MinProb: rule.MinProbability}}
	ds, indices, err := samples(run.Dir, run.Info, classes, false, opt, &res)
	if err != nil {
		return nil, err
	}
	photos, err := describeSamples(ds, indices, opt)
	if err != nil {
		return nil, err
	}
	k := len(classes)
	acc := eval.NewAccumulator(classes)
	logits := tensor.New(1, k)
	prob := make([]float64, k)
	var lossSum float64
	var genuine []float64 // each known photo's Rule.Score, for the DET curve
	described, top5, rejected := 0, 0, 0
	for r, ph := range photos {
		if ph.Err != nil {
			res.Skipped = append(res.Skipped, skippedFrom(ph.Err))
			continue
		}
		y := slices.Index(classes, ds.Classes[ds.Samples[indices[r]].Class])
		pred := eval.Unknown
		score := math.Inf(1)
		if f := ph.Largest(); f == nil {
			res.NoFace++
			res.NoFaceFiles = append(res.NoFaceFiles, ph.Path)
			// Any scores will do: the loss and top-5 are recomputed below
			// without this photo's.
			logits.Zero()
		} else {
			a := run.Model.Identify(f.Descriptor, rule, 1)
			copy(logits.Data, a.Logits)
			pred, score = a.Class, rule.Score(a)
			lossSum += nn.SoftmaxRow(prob, a.Logits) - float64(a.Logits[y])
			if eval.Rank(a.Logits, y) < 5 {
				top5++
			}
			if pred == eval.Unknown {
				rejected++
			}
			described++
		}
		genuine = append(genuine, score)
		if err := acc.AddPredicted(logits, []int{y}, []int{pred}); err != nil {
			return nil, err
		}
	}
	if acc.N() == 0 {
		return nil, fmt.Errorf("none of the %d images in %s could be read", len(indices), ds.Root)
	}
	res.Metrics = acc.Metrics()
	res.Top5 = eval.Top5Share(top5, res.N, k)
	res.Loss = 0
	if described > 0 {
		res.Loss = lossSum / float64(described)
		res.UnknownRate = float64(rejected) / float64(described)
	}
	if opt.Strangers != "" {
		if res.Strangers, err = strangers(run, rule, opt); err != nil {
			return nil, err
		}
		s := res.Strangers
		s.det = eval.DET(genuine, s.impostor)
		refused := 0 // known photos the rule answers "unknown" (or without a face)
		for _, g := range genuine {
			if !(g <= 1) {
				refused++
			}
		}
		s.op = eval.DETPoint{Threshold: 1, FAR: ratio(s.N-s.Rejected, s.N), FRR: ratio(refused, len(genuine))}
		s.DETPNG = filepath.Join(res.Out, DETPNG)
	}
	return &res, nil
}

// describeSamples describes the listed samples with opt.Describe.
func describeSamples(ds *data.Dataset, indices []int, opt Options) ([]identify.Photo, error) {
	paths, keys := make([]string, len(indices)), make([]string, len(indices))
	for r, i := range indices {
		paths[r], keys[r] = ds.Samples[i].Path, ds.Samples[i].SHA256
	}
	if opt.Describe == nil {
		return nil, errors.New("runeval: no describer given for a face run")
	}
	photos, err := opt.Describe(context.Background(), paths, keys)
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

// strangers answers --strangers: "excluded" (the classes the run left
// out of training), NAME,NAME (class folders of the run's training data
// the run does not know) or a folder of class folders.
func strangers(run *identify.FaceRun, rule identify.Rule, opt Options) (*StrangerResult, error) {
	res := &StrangerResult{Source: opt.Strangers, NamedAs: map[string]int{}}
	var ds *data.Dataset
	var names []string
	var err error
	if fi, serr := os.Stat(opt.Strangers); serr == nil && fi.IsDir() {
		if ds, err = scanFolder(opt.Strangers); err != nil {
			return nil, err
		}
		names = ds.Classes
	} else {
		if opt.Strangers == "excluded" {
			names = run.Face.Excluded
			if len(names) == 0 {
				return nil, usagef("--strangers excluded: %s was trained without --exclude; name class folders or give a folder", run.Dir)
			}
		} else {
			names = strings.Split(opt.Strangers, ",")
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
		return nil, fmt.Errorf("--strangers %s: no photos", opt.Strangers)
	}
	photos, err := describeSamples(ds, indices, opt)
	if err != nil {
		return nil, err
	}
	for _, ph := range photos {
		if ph.Err != nil {
			opt.note(fmt.Sprintf("skipped stranger photo %s: %v", ph.Path, ph.Err))
			continue
		}
		res.N++
		f := ph.Largest()
		if f == nil {
			res.NoFace++
			res.Rejected++
			res.impostor = append(res.impostor, math.Inf(1))
			continue
		}
		a := run.Model.Identify(f.Descriptor, rule, 1)
		res.impostor = append(res.impostor, rule.Score(a))
		if a.Class == eval.Unknown {
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

// samples picks what to evaluate and fills in res's Data, Split, Out and
// Skipped: without opt.Data the run's test split (split.json mapped back
// onto the training folder; with exact, the folder must still hold the
// run's classes, otherwise test photos of classes the run does not know,
// left out with --exclude, are strangers and not evaluated here), else
// every photo of opt.Data, whose classes must all be known to the run.
func samples(dir string, info runs.ModelInfo, classes []string, exact bool, opt Options, res *Result) (*data.Dataset, []int, error) {
	var ds *data.Dataset
	var indices []int
	var err error
	if opt.Data == "" {
		ds, indices, err = testSplit(dir, info, classes, exact)
		res.Split, res.Out = "test", cmp.Or(res.Out, dir)
	} else {
		ds, err = scanFolder(opt.Data)
		if err == nil {
			err = checkSubset(ds.Classes, classes, opt.Data)
		}
		if ds != nil {
			for i := range ds.Samples {
				indices = append(indices, i)
			}
		}
		res.Out = cmp.Or(res.Out, filepath.Join(dir, "eval-"+filepath.Base(filepath.Clean(opt.Data))))
	}
	if err != nil {
		return nil, nil, err
	}
	if len(indices) == 0 {
		return nil, nil, fmt.Errorf("no images to evaluate in %s", ds.Root)
	}
	res.Data = ds.Root
	res.Skipped = append(res.Skipped, ds.Skipped...)
	return ds, indices, nil
}

// testSplit maps dir/split.json's test files back onto the training
// folder (see samples for exact).
func testSplit(dir string, info runs.ModelInfo, classes []string, exact bool) (*data.Dataset, []int, error) {
	splitPath := filepath.Join(dir, runs.SplitFile)
	split, err := data.ReadSplit(splitPath)
	if err != nil {
		return nil, nil, err
	}
	ds, err := scanFolder(info.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (the run's training folder; use --data to evaluate elsewhere)", err)
	}
	if exact && !slices.Equal(ds.Classes, classes) {
		return nil, nil, fmt.Errorf("%s now has classes %s, the run was trained on %s",
			ds.Root, strings.Join(ds.Classes, ", "), strings.Join(classes, ", "))
	}
	_, test, err := split.Indices(ds)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", splitPath, err)
	}
	if exact {
		return ds, test, nil
	}
	var known []int
	for _, i := range test {
		if slices.Contains(classes, ds.Classes[ds.Samples[i].Class]) {
			known = append(known, i)
		}
	}
	return ds, known, nil
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

// FaceCrops finds the faces of the samples to evaluate and returns the
// loader's crop, which cuts them as training did, and the count of photos
// without a face (shown whole, as in training).
func FaceCrops(info runs.ModelInfo, ds *data.Dataset, indices []int, opt Options) (func(int, *image.RGBA) (image.Rectangle, error), *FaceCropResult, error) {
	found, res, err := findFaces(info, ds, indices, opt, false)
	if err != nil {
		return nil, nil, err
	}
	return train.FaceCropper(found, info.CropMargin), res, nil
}

// AlignedChips is FaceCrops for crop=aligned runs: the loader's warp cuts
// each photo's main face into the chip training cut (same landmarks,
// padding and chip side), a photo without a face stays whole.
func AlignedChips(info runs.ModelInfo, ds *data.Dataset, indices []int, opt Options) (func(int, *image.RGBA) (*image.RGBA, error), *FaceCropResult, error) {
	found, res, err := findFaces(info, ds, indices, opt, true)
	if err != nil {
		return nil, nil, err
	}
	side, padding := recognize.ChipSide(info), info.CropMargin
	res.Aligned, res.ChipSize = true, side
	return train.FaceWarper(found, func(img *image.RGBA, lm []faces.Point) (*image.RGBA, error) {
		return facecrop.AlignedChip(faces.FromImage(img), lm, padding, side)
	}), res, nil
}

// findFaces finds the main face of each sample (with its landmarks when
// asked) and counts the photos without one.
func findFaces(info runs.ModelInfo, ds *data.Dataset, indices []int, opt Options, landmarks bool) (map[int]train.FaceFind, *FaceCropResult, error) {
	paths, keys := make([]string, len(indices)), make([]string, len(indices))
	for r, i := range indices {
		paths[r], keys[r] = ds.Samples[i].Path, ds.Samples[i].SHA256
	}
	if opt.FindFaces == nil {
		return nil, nil, errors.New("runeval: no face finder given for a crop run")
	}
	finds, err := opt.FindFaces(context.Background(), paths, keys, landmarks)
	if err != nil {
		return nil, nil, err
	}
	res := &FaceCropResult{Margin: info.CropMargin}
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

// ratio is n/d, or 0 when there is nothing to divide.
func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}
