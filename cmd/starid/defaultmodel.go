package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/eval"
	"starid/internal/eval/runeval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/recognize/defaultmodel"
	"starid/internal/report"
	"starid/internal/runs"
	"starid/internal/serve"
)

// openModelArgs opens the run args[0] names, or the default model when
// args[0] is not a run folder (recognize.OpenArgs), saying on stderr which
// default model answers; rest are the photos.
func openModelArgs(args []string, opt recognize.Options, stderr io.Writer) (recognize.Recognizer, []string, error) {
	r, rest, err := recognize.OpenArgs(args, opt)
	if err == nil && len(rest) == len(args) {
		noteDefault(r, stderr)
	}
	return r, rest, err
}

// noteDefault says that no run was given and which default model answers.
func noteDefault(r recognize.Recognizer, stderr io.Writer) {
	fmt.Fprintf(stderr, "no run given: using %s (%d people)\n", r.Info().Source, len(r.Info().Classes))
}

// openServeModel is serve's model: the run it was given (openRecognizer),
// or the default model.
func openServeModel(pos []string, stderr io.Writer) (serve.Recognizer, error) {
	if len(pos) == 1 {
		return openRecognizer(pos[0])
	}
	r, err := recognize.OpenDefault(recognize.Options{TopK: serveTopK, OpenFinder: openRecognizeFinder})
	if err != nil {
		return nil, err
	}
	noteDefault(r, stderr)
	return serveRecognizer{r}, nil
}

// evalModel evaluates the run pos names, or with no run the default
// model on opt.Data.
func evalModel(pos []string, opt runeval.Options, stderr io.Writer) (*runeval.Result, error) {
	if len(pos) == 1 {
		return runeval.Run(pos[0], opt)
	}
	if opt.Data != "" {
		fmt.Fprintf(stderr, "no run given: evaluating %s\n", defaultmodel.Which())
	}
	return runeval.RunDefault(opt)
}

// enrollModel enrolls pos's NAME PHOTO... into the run pos[0] names, or,
// when pos[0] is not a run folder, into the user's copy of the default
// model (made on first use), saying where.
func enrollModel(pos []string, opt identify.EnrollOptions, stderr io.Writer) (*identify.EnrollResult, error) {
	dir := pos[0]
	opt.Waiting = func(holder string) {
		fmt.Fprintf(stderr, "run folder %s is in use by %s; waiting up to %s for it\n", dir, holder, identify.DefaultLockWait)
	}
	if runArg(pos[0]) {
		if err := identify.CheckName(pos[1]); err != nil {
			return nil, usagef("%v", err)
		}
		return identify.Enroll(context.Background(), pos[0], pos[1], pos[2:], newDescriber(), opt)
	}
	if err := identify.CheckName(pos[0]); err != nil {
		return nil, usagef("%v", err)
	}
	src := defaultmodel.Which()
	dir = src.Dir
	res, src, err := defaultmodel.Enroll(context.Background(), pos[0], pos[1:], newDescriber(), opt)
	if err == nil {
		fmt.Fprintf(stderr, "no run given: enrolled into %s; predict, serve and eval without a run now use it (remove the folder to go back to the built-in model)\n", src)
	}
	return res, err
}

// runArg tells enroll's RUN from its NAME: a run folder, or what can only
// be a path (a folder, or a name with a slash, which names never have), so
// that a mistyped run is reported as one.
func runArg(arg string) bool {
	if runs.IsRun(arg) || strings.ContainsAny(arg, `/\`) {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.IsDir()
}

// drawPrediction writes p's photo with its faces' names into dir as
// NAME.png (NAME-2.png, ... for a second photo of the same name).
func drawPrediction(dir string, p prediction, drawn map[string]bool) error {
	photo, err := recognize.Decode(p.Image)
	if err != nil {
		return err
	}
	found := make([]recognize.Face, len(p.Faces))
	for i, f := range p.Faces {
		found[i] = recognize.Face{Box: faces.Box{X: float64(f.Box[0]), Y: float64(f.Box[1]), W: float64(f.Box[2]), H: float64(f.Box[3])},
			Name: f.Name, Confidence: f.Confidence, Unknown: f.Name == eval.UnknownName}
	}
	img, err := recognize.Draw(photo.RGBA(), found)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Image, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := strings.TrimSuffix(filepath.Base(p.Image), filepath.Ext(p.Image))
	name := base + ".png"
	for n := 2; drawn[name]; n++ {
		name = fmt.Sprintf("%s-%d.png", base, n)
	}
	drawn[name] = true
	return report.WritePNG(img, filepath.Join(dir, name))
}
