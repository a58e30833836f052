package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/runs"
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
	fs := newFlagSet("predict", "predict [RUN] IMAGE... [--top 5] [--json] [--threshold T] [--cache DIR] [--out DIR]", stderr)
	top := fs.Int("top", 5, "how many names to list per photo, best first")
	asJSON := fs.Bool("json", false, "print JSON")
	threshold := fs.Float64("threshold", -1, "unknown threshold instead of the run's: the descriptor distance for face runs, the top probability otherwise")
	cacheDir := fs.String("cache", "", "face runs and --crop face or aligned runs: "+cacheHelp)
	outDir := fs.String("out", "", "also draw each photo's faces with their names into this folder (NAME.png)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return usagef("want at least one image (after a run directory, to use it instead of the built-in model)")
	}
	if *top < 1 {
		return usagef("--top must be at least 1")
	}
	opt := recognize.Options{TopK: *top}
	if flagGiven(fs, "threshold") {
		if !(*threshold >= 0) {
			return usagef("--threshold %v: must be 0 or more", *threshold)
		}
		opt.Threshold = threshold
	}
	// No finder: predict finds faces through the descriptor cache.
	r, images, err := openModelArgs(pos, opt, stderr)
	if err != nil {
		return err
	}
	if len(images) == 0 {
		return usagef("want at least one image after the run directory")
	}
	info := r.Info()
	if info.Warning != "" {
		fmt.Fprintln(stderr, info.Warning)
	}
	var photos []identify.Photo
	if r.FindsFaces() {
		// Face runs print no cache count: it is about the crops.
		count := info.Kind != runs.ModelFace
		if photos, err = describePhotos(context.Background(), descriptorCache(*cacheDir, stderr), 0, images, nil,
			info.Crop == facecrop.Aligned, count, stderr); err != nil {
			return err
		}
	}
	print := printPrediction
	switch {
	case info.Kind == runs.ModelFace:
		print = printFacePrediction
	case info.Crop.FindsFaces():
		print = printCropPrediction
	}
	drawn := map[string]bool{} // pictures written, so that photos with one name do not overwrite each other
	out := make([]prediction, 0, len(images))
	failed := 0
	for i, path := range images {
		var ph *identify.Photo
		if photos != nil {
			ph = &photos[i]
		}
		p := predictPhoto(r, path, ph)
		if p.Error != "" {
			failed++
		} else if *outDir != "" {
			if err := drawPrediction(*outDir, p, drawn); err != nil {
				return err
			}
		}
		out = append(out, p)
		if !*asJSON {
			print(stdout, stderr, p)
		}
	}
	if *outDir != "" && len(drawn) > 0 {
		fmt.Fprintf(stderr, "pictures with the names drawn: %s\n", *outDir)
	}
	return finishPredict(out, failed, *asJSON, stdout)
}

// predictPhoto names the faces of one photo; ph holds the faces the
// descriptor cache found when the run needs them.
func predictPhoto(r recognize.Recognizer, path string, ph *identify.Photo) prediction {
	p := prediction{Image: path}
	var found []faces.Face
	if ph != nil {
		if ph.Err != nil {
			p.Error = imageErrorText(ph.Err)
			return p
		}
		found = ph.Faces
	}
	var photo *recognize.Photo
	if r.Info().Kind != runs.ModelFace {
		var err error
		if photo, err = recognize.Decode(path); err != nil {
			p.Error = imageErrorText(err)
			return p
		}
	}
	named, err := r.Name(context.Background(), photo, found)
	if err != nil {
		if ph == nil { // a whole-photo run: the error may not say which photo
			err = fmt.Errorf("%s: %w", path, err)
		}
		p.Error = imageErrorText(err)
		return p
	}
	switch {
	case ph != nil && len(found) == 0 && r.Info().Kind == runs.ModelFace:
		p.Note = "no face found"
	case ph != nil && len(found) == 0:
		p.Note = "no face found; the whole photo was used"
	}
	for _, f := range named {
		p.Faces = append(p.Faces, toFaceName(f))
	}
	return p
}

// imageErrorText is an error as a prediction entry says it: the entry
// already names the image.
func imageErrorText(err error) string {
	if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

// toFaceName is the JSON form of a recognized face.
func toFaceName(f recognize.Face) faceName {
	fn := faceName{Box: recognize.RoundBox(f.Box), Name: f.Name, Confidence: f.Confidence, Distance: f.Distance, Closest: f.Closest}
	for _, c := range f.Top {
		fn.Top = append(fn.Top, candidate{Name: c.Name, Probability: c.Probability})
	}
	return fn
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
