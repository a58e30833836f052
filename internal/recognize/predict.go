package recognize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"starid/internal/cli"
	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
)

// Prediction is one photo of `starid predict --json`.
type Prediction struct {
	Image string   `json:"image"`
	Faces []Answer `json:"faces,omitempty"`
	Error string   `json:"error,omitempty"`
	Note  string   `json:"note,omitempty"` // face runs: "no face found"; crop=face runs: the whole photo was used
}

// Answer is one recognized face as every JSON output of starid says it
// (`predict --json`, the HTTP API). Whole-photo models give one whose box
// is the whole photo.
type Answer struct {
	// Box is [x, y, w, h] in pixels of the upright photo (EXIF applied).
	Box [4]int `json:"box"`
	// Name is the best candidate's name, or "unknown" when Unknown.
	Name string `json:"name"`
	// Unknown is true when the answer fell below the model's threshold.
	Unknown bool `json:"unknown"`
	// Confidence is the best candidate's probability, in [0, 1].
	Confidence float64 `json:"confidence"`
	// Face runs: the descriptor's distance to the centroid of the head's
	// top class (what the unknown rule compares with the threshold), and
	// the person whose centroid is nearest.
	Distance *float64 `json:"distance,omitempty"`
	Closest  string   `json:"closest,omitempty"`
	// Top lists the best candidates, best first.
	Top []Candidate `json:"top"`
}

// Answers is the JSON form of faces.
func Answers(found []Face) []Answer {
	out := make([]Answer, len(found))
	for i, f := range found {
		out[i] = f.Answer()
	}
	return out
}

// TextPrinter is the human form of predictions for runs like info's: one
// line per face, errors on stderr.
func TextPrinter(info Info) func(stdout, stderr io.Writer, p Prediction) {
	switch {
	case info.Kind == runs.ModelFace:
		return printFacePrediction
	case info.Crop.FindsFaces():
		return printCropPrediction
	}
	return printPrediction
}

// Predict names the faces of the photo at path for `starid predict`; ph
// holds the faces the descriptor cache found when r finds faces (nil
// otherwise). Errors are the entry's, so one bad photo does not stop the
// others.
func Predict(ctx context.Context, r Recognizer, path string, ph *identify.Photo) Prediction {
	p := Prediction{Image: path}
	if st, err := os.Stat(path); err == nil && st.IsDir() { // data.ListPhotos keeps folders without photos, and unreadable ones
		p.Error = "a folder without photos"
		if _, err := os.ReadDir(path); err != nil {
			if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
				err = pe.Err // the entry names the folder already
			}
			p.Error = "unreadable folder: " + err.Error()
		}
		return p
	}
	var found []faces.Face
	if ph != nil {
		if ph.Err != nil {
			p.Error = ImageErrorText(ph.Err)
			return p
		}
		found = ph.Faces
	}
	var photo *Photo
	if r.Info().Kind != runs.ModelFace {
		var err error
		if photo, err = Decode(path); err != nil {
			p.Error = ImageErrorText(err)
			return p
		}
	}
	named, err := r.Name(ctx, photo, found)
	if err != nil {
		if ph == nil { // a whole-photo run: the error may not say which photo
			err = fmt.Errorf("%s: %w", path, err)
		}
		p.Error = ImageErrorText(err)
		return p
	}
	switch {
	case ph != nil && len(found) == 0 && r.Info().Kind == runs.ModelFace:
		p.Note = "no face found"
	case ph != nil && len(found) == 0:
		p.Note = "no face found; the whole photo was used"
	}
	for _, f := range named {
		p.Faces = append(p.Faces, f.Answer())
	}
	return p
}

// ImageErrorText is an error as a prediction entry says it: the entry
// already names the image.
func ImageErrorText(err error) string {
	if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

// Answer is the JSON form of a recognized face.
func (f Face) Answer() Answer {
	return Answer{Box: RoundBox(f.Box), Name: f.Name, Unknown: f.Unknown || f.Name == eval.UnknownName, Confidence: f.Confidence,
		Distance: f.Distance, Closest: f.Closest, Top: f.Top}
}

// printFacePrediction is the human form for face runs: one line per face,
// largest first, e.g.
//
//	group.jpg: face 1 at [120 80 96 96]: Tom Hanks 97.1% (distance 0.32); also Meg Ryan 1.2%
//	group.jpg: face 2 at [400 90 60 60]: unknown (closest: Meg Ryan, distance 0.71)
func printFacePrediction(stdout, stderr io.Writer, p Prediction) {
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
func printCropPrediction(stdout, stderr io.Writer, p Prediction) {
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
func topText(f Answer) string {
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
func printPrediction(stdout, stderr io.Writer, p Prediction) {
	if p.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", p.Image, p.Error)
		return
	}
	for _, f := range p.Faces {
		fmt.Fprintf(stdout, "%s: %s\n", p.Image, topText(f))
	}
}

// PredictAll runs Predict on each path, in order; photos are the paths'
// descriptions when r finds faces (nil otherwise). each, if not nil, gets
// every result as it is made. failed counts the photos that could not be
// read or named.
func PredictAll(ctx context.Context, r Recognizer, paths []string, photos []identify.Photo, each func(Prediction)) (out []Prediction, failed int) {
	out = make([]Prediction, 0, len(paths))
	for i, path := range paths {
		var ph *identify.Photo
		if photos != nil {
			ph = &photos[i]
		}
		p := Predict(ctx, r, path, ph)
		if p.Error != "" {
			failed++
		}
		out = append(out, p)
		if each != nil {
			each(p)
		}
	}
	return out, failed
}

// WriteCSV is `predict --csv`: one row per face (a photo without one, or
// that failed, gets one row with its note or error), with a header.
func WriteCSV(w io.Writer, preds []Prediction) error {
	c := cli.NewCSV(w)
	c.Row("image", "face", "x", "y", "w", "h", "name", "unknown", "confidence", "distance", "closest", "note", "error")
	for _, p := range preds {
		if len(p.Faces) == 0 {
			c.Row(p.Image, "", "", "", "", "", "", "", "", "", "", p.Note, p.Error)
		}
		for i, a := range p.Faces {
			var dist cli.Number
			if a.Distance != nil {
				dist = cli.Float(*a.Distance, 4)
			}
			c.Row(p.Image, i+1, a.Box[0], a.Box[1], a.Box[2], a.Box[3], a.Name, a.Unknown, cli.Float(a.Confidence, 4),
				dist, a.Closest, p.Note, p.Error)
		}
	}
	return c.Flush()
}
