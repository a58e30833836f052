package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
	"starid/internal/tensor"
	"starid/internal/train"
)

func init() {
	register("predict", "name the star in each photo, with probabilities", runPredict)
}

// prediction is one image of `predict --json`.
type prediction struct {
	Image string     `json:"image"`
	Faces []faceName `json:"faces,omitempty"`
	Error string     `json:"error,omitempty"`
	Note  string     `json:"note,omitempty"` // face runs: "no face found"; crop=face runs: the whole photo was used
}

// faceName is one recognized region. Whole-photo models give one whose box
// ([x, y, w, h] in pixels of the upright photo) is the whole photo.
type faceName struct {
	Box        [4]int      `json:"box"`
	Name       string      `json:"name"`
	Confidence float64     `json:"confidence"`
	Top        []candidate `json:"top"`
	// Face runs: the descriptor's distance to the centroid of the head's
	// top class (what the unknown rule compares with the threshold), and
	// the person whose centroid is nearest.
	Distance *float64 `json:"distance,omitempty"`
	Closest  string   `json:"closest,omitempty"`
}

type candidate struct {
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// runPredict names the person in each photo. A photo that cannot be read
// gets an error entry and the others are still predicted; the exit status
// is then 2.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "predict RUN IMAGE... [--top 5] [--json] [--threshold T] [--cache DIR]", stderr)
	top := fs.Int("top", 5, "how many names to list per photo, best first")
	asJSON := fs.Bool("json", false, "print JSON")
	threshold := fs.Float64("threshold", -1, "unknown threshold instead of the run's: the descriptor distance for face runs, the top probability otherwise")
	cacheDir := fs.String("cache", "", "face runs and --crop face or aligned runs: "+cacheHelp)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usagef("want a run directory and at least one image")
	}
	if *top < 1 {
		return usagef("--top must be at least 1")
	}
	thresholdSet := false
	fs.Visit(func(f *flag.Flag) { thresholdSet = thresholdSet || f.Name == "threshold" })
	if thresholdSet && !(*threshold >= 0) {
		return usagef("--threshold %v: must be 0 or more", *threshold)
	}
	run, err := runs.OpenRun(pos[0])
	if err != nil {
		return err
	}
	if run.Info.Model == runs.ModelFace {
		return predictFaces(pos[0], pos[1:], *top, *asJSON, thresholdSet, *threshold, *cacheDir, stdout, stderr)
	}
	if err := checkRunCrop(run.Info); err != nil {
		return err
	}
	warnPipeline(run.Info, stderr)
	var thr float64
	if run.Info.Unknown != nil {
		thr = *run.Info.Unknown
	}
	if thresholdSet {
		thr = *threshold
	}
	tf := transformFor(run.Info)
	x := tensor.New(1, 3, tf.Size, tf.Size)
	if faceCropped(run.Info) {
		return predictCrops(run, tf, x, pos[1:], *top, thr, *asJSON, *cacheDir, stdout, stderr)
	}
	out := make([]prediction, 0, len(pos)-1)
	failed := 0
	for _, path := range pos[1:] {
		p := prediction{Image: path}
		face, err := predictOne(run, tf, x, path, *top, thr)
		if err != nil {
			p.Error = err.Error()
			// The entry already names the image.
			if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
				p.Error = ie.Reason
			}
			failed++
		} else {
			p.Faces = []faceName{face}
		}
		out = append(out, p)
		if !*asJSON {
			printPrediction(stdout, stderr, p)
		}
	}
	return finishPredict(out, failed, *asJSON, stdout)
}

// finishPredict prints the JSON form and turns unreadable images into the
// exit status.
func finishPredict(out []prediction, failed int, asJSON bool, stdout io.Writer) error {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(out))
	}
	return nil
}

// predictFaces names every face of each photo with a face run.
func predictFaces(dir string, images []string, k int, asJSON, thresholdSet bool, threshold float64, cacheDir string,
	stdout, stderr io.Writer) error {
	run, err := identify.OpenFaceRun(dir)
	if err != nil {
		return err
	}
	if run.Info.PipelineVersion != faces.PipelineVersion {
		return fmt.Errorf("%s was trained on descriptors of face pipeline %q, this starid makes %q; train a new run",
			dir, run.Info.PipelineVersion, faces.PipelineVersion)
	}
	rule := run.Rule()
	if thresholdSet {
		rule.MaxDistance = threshold
	}
	photos, _, err := identify.Describe(context.Background(), newDescriber(), images, nil,
		identify.DescribeOptions{Cache: descriptorCache(cacheDir, stderr)})
	if err != nil {
		return err
	}
	out := make([]prediction, 0, len(images))
	failed := 0
	for _, ph := range photos {
		p := prediction{Image: ph.Path}
		switch {
		case ph.Err != nil:
			if le := (*identify.LoadError)(nil); errors.As(ph.Err, &le) {
				return le
			}
			p.Error = ph.Err.Error()
			if ie := (*data.ImageError)(nil); errors.As(ph.Err, &ie) {
				p.Error = ie.Reason
			}
			failed++
		case len(ph.Faces) == 0:
			p.Note = "no face found"
		}
		for _, f := range ph.Faces {
			a := run.Model.Identify(f.Descriptor, rule, k)
			d := a.Distance
			fn := faceName{Name: a.Name, Confidence: a.Probability, Distance: &d, Closest: run.Model.Classes[a.Closest],
				Box: [4]int{int(math.Round(f.Box.X)), int(math.Round(f.Box.Y)), int(math.Round(f.Box.W)), int(math.Round(f.Box.H))}}
			for _, c := range a.Top {
				fn.Top = append(fn.Top, candidate{Name: c.Name, Probability: c.Probability})
			}
			p.Faces = append(p.Faces, fn)
		}
		out = append(out, p)
		if !asJSON {
			printFacePrediction(stdout, stderr, p)
		}
	}
	return finishPredict(out, failed, asJSON, stdout)
}

// printFacePrediction is the human form for face runs: one line per face,
// largest first, e.g.
//
//	group.jpg: face 1 at [120 80 96 96]: Tom Hanks 97.1% (distance 0.32); also Meg Ryan 1.2%
//	group.jpg: face 2 at [400 90 60 60]: unknown (closest: Meg Ryan, distance 0.71)
func printFacePrediction(stdout, stderr io.Writer, p prediction) {
	if p.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", p.Image, p.Error)
		return
	}
	if len(p.Faces) == 0 {
		fmt.Fprintf(stdout, "%s: no face found\n", p.Image)
		return
	}
	for i, f := range p.Faces {
		where := fmt.Sprintf("%s: face %d at %v: ", p.Image, i+1, f.Box)
		if f.Name == eval.UnknownName {
			fmt.Fprintf(stdout, "%sunknown (closest: %s, distance %.2f)\n", where, f.Closest, *f.Distance)
			continue
		}
		line := fmt.Sprintf("%s%s %.1f%% (distance %.2f)", where, f.Name, 100*f.Confidence, *f.Distance)
		var also []string
		for _, c := range f.Top[1:] {
			also = append(also, fmt.Sprintf("%s %.1f%%", c.Name, 100*c.Probability))
		}
		if len(also) > 0 {
			line += "; also " + strings.Join(also, ", ")
		}
		fmt.Fprintln(stdout, line)
	}
}

func predictOne(run *runs.Run, tf data.Transform, x *tensor.Tensor, path string, k int, threshold float64) (faceName, error) {
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return faceName{}, err
	}
	f, err := predictRegion(run, tf, x, img, img.Bounds(), k, threshold)
	if err != nil {
		return faceName{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// predictCrops names every face of each photo with a VGG run trained on
// face crops: each face is cut as in training (train.CropAround with the
// run's margin, or for crop=aligned runs the chip aligned on that face's
// own landmarks) and named on its own, so a group photo gets one answer
// per face, largest first, each with its face box. A photo without a face
// is named whole, as training treated such photos, with a note saying so.
func predictCrops(run *runs.Run, tf data.Transform, x *tensor.Tensor, images []string, k int, threshold float64,
	asJSON bool, cacheDir string, stdout, stderr io.Writer) error {
	aligned := run.Info.Crop == "aligned"
	photos, err := describePhotos(context.Background(), descriptorCache(cacheDir, stderr), 0, images, nil, aligned, stderr)
	if err != nil {
		return err
	}
	out := make([]prediction, 0, len(images))
	failed := 0
	for _, ph := range photos {
		p := prediction{Image: ph.Path}
		if err := predictPhotoCrops(run, tf, x, ph, k, threshold, &p); err != nil {
			p.Error = err.Error()
			if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
				p.Error = ie.Reason
			}
			p.Faces = nil
			failed++
		}
		out = append(out, p)
		if !asJSON {
			printCropPrediction(stdout, stderr, p)
		}
	}
	return finishPredict(out, failed, asJSON, stdout)
}

// predictPhotoCrops fills p with the answers for one described photo.
func predictPhotoCrops(run *runs.Run, tf data.Transform, x *tensor.Tensor, ph identify.Photo, k int, threshold float64, p *prediction) error {
	if ph.Err != nil {
		return ph.Err
	}
	img, err := data.DecodeFile(ph.Path, data.DefaultMaxPixels)
	if err != nil {
		return err
	}
	if len(ph.Faces) == 0 {
		p.Note = "no face found; the whole photo was used"
		f, err := predictRegion(run, tf, x, img, img.Bounds(), k, threshold)
		if err != nil {
			return err
		}
		p.Faces = []faceName{f}
		return nil
	}
	for _, face := range ph.Faces {
		b := face.Box
		src, r := img, train.CropAround(faceBox(b.X, b.Y, b.W, b.H), img.Bounds(), run.Info.CropMargin)
		if run.Info.Crop == "aligned" {
			if src, err = alignedChip(img, facePoints(face.Landmarks), run.Info.CropMargin, runChipSide(run.Info)); err != nil {
				return err
			}
			r = src.Rect
		}
		f, err := predictRegion(run, tf, x, src, r, k, threshold)
		if err != nil {
			return err
		}
		f.Box = roundBox(b.X, b.Y, b.W, b.H)
		p.Faces = append(p.Faces, f)
	}
	return nil
}

// printCropPrediction is the human form for crop=face runs: one line per
// face, e.g.
//
//	group.jpg: face 1 at [120 80 96 96]: Tom Hanks 97.1%, Meg Ryan 1.2%
//	beach.jpg: no face found, whole photo: Meg Ryan 41.0%, Tom Hanks 30.2%
func printCropPrediction(stdout, stderr io.Writer, p prediction) {
	if p.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", p.Image, p.Error)
		return
	}
	for i, f := range p.Faces {
		where := fmt.Sprintf("face %d at %v", i+1, f.Box)
		if p.Note != "" {
			where = "no face found, whole photo"
		}
		fmt.Fprintf(stdout, "%s: %s: %s\n", p.Image, where, topText(f))
	}
}

// topText is a VGG answer's candidates as a person reads them, e.g.
// "Tom Hanks 97.1%, Meg Ryan 1.2%", after "unknown; " when the answer fell
// below the threshold.
func topText(f faceName) string {
	parts := make([]string, len(f.Top))
	for i, c := range f.Top {
		parts[i] = fmt.Sprintf("%s %.1f%%", c.Name, 100*c.Probability)
	}
	prefix := ""
	if f.Name == eval.UnknownName {
		prefix = "unknown; "
	}
	return prefix + strings.Join(parts, ", ")
}

// predictRegion names the region r of img (the whole photo, or a face
// crop) with a VGG run; the answer's box is r.
func predictRegion(run *runs.Run, tf data.Transform, x *tensor.Tensor, img *image.RGBA, r image.Rectangle, k int, threshold float64) (faceName, error) {
	if err := tf.Apply(img.SubImage(r), nil, x.Data); err != nil {
		return faceName{}, err
	}
	logits, err := run.Model.Forward(x)
	if err != nil {
		return faceName{}, err
	}
	classes := run.Info.Classes
	if logits.Numel() != len(classes) {
		return faceName{}, fmt.Errorf("the model gives %d scores for %d classes", logits.Numel(), len(classes))
	}
	probs := eval.Softmax(logits.Data)
	f := faceName{Box: [4]int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()}}
	for _, j := range eval.TopK(logits.Data, k) {
		f.Top = append(f.Top, candidate{Name: classes[j], Probability: probs[j]})
	}
	f.Name, f.Confidence = f.Top[0].Name, f.Top[0].Probability
	if threshold > 0 && f.Confidence < threshold {
		f.Name = eval.UnknownName
	}
	return f, nil
}

// printPrediction is the human form: one line per photo.
func printPrediction(stdout, stderr io.Writer, p prediction) {
	if p.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", p.Image, p.Error)
		return
	}
	for _, f := range p.Faces {
		fmt.Fprintf(stdout, "%s: %s\n", p.Image, topText(f))
	}
}
