package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
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
}

// faceName is one recognized region. Whole-photo models give one whose box
// ([x, y, w, h] in pixels of the upright photo) is the whole photo.
type faceName struct {
	Box        [4]int      `json:"box"`
	Name       string      `json:"name"`
	Confidence float64     `json:"confidence"`
	Top        []candidate `json:"top"`
}

type candidate struct {
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// runPredict names the person in each photo. A photo that cannot be read
// gets an error entry and the others are still predicted; the exit status
// is then 2.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("predict", "predict RUN IMAGE... [--top 5] [--json]", stderr)
	top := fs.Int("top", 5, "how many names to list per photo, best first")
	asJSON := fs.Bool("json", false, "print JSON")
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
	run, err := train.OpenRun(pos[0])
	if err != nil {
		return err
	}
	if err := checkCrop(run.Info); err != nil {
		return err
	}
	var threshold float64
	if run.Info.Unknown != nil {
		threshold = *run.Info.Unknown
	}
	tf := transformFor(run.Info)
	x := tensor.New(1, 3, tf.Size, tf.Size)
	out := make([]prediction, 0, len(pos)-1)
	failed := 0
	for _, path := range pos[1:] {
		p := prediction{Image: path}
		face, err := predictOne(run, tf, x, path, *top, threshold)
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
	if *asJSON {
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

func predictOne(run *train.Run, tf data.Transform, x *tensor.Tensor, path string, k int, threshold float64) (faceName, error) {
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return faceName{}, err
	}
	if err := tf.Apply(img, nil, x.Data); err != nil {
		return faceName{}, fmt.Errorf("%s: %w", path, err)
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
	b := img.Bounds()
	f := faceName{Box: [4]int{0, 0, b.Dx(), b.Dy()}}
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
		parts := make([]string, len(f.Top))
		for i, c := range f.Top {
			parts[i] = fmt.Sprintf("%s %.1f%%", c.Name, 100*c.Probability)
		}
		prefix := ""
		if f.Name == eval.UnknownName {
			prefix = "unknown; "
		}
		fmt.Fprintf(stdout, "%s: %s%s\n", p.Image, prefix, strings.Join(parts, ", "))
	}
}
