package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/report"
)

func init() { addCommand(newFacesCmd) }

type facesOptions struct {
	out               string
	json, descriptors bool
}

func newFacesCmd() *cobra.Command {
	var o facesOptions
	c := &cobra.Command{
		Use:   "faces IMAGE...",
		Short: "find faces: boxes, scores and 68 landmarks",
		RunE: func(c *cobra.Command, args []string) error {
			return runFaces(args, o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "write the photo with boxes and landmarks drawn (a PNG `file`; a folder when several photos are given)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.descriptors, "descriptors", false, "include each face's 128-D descriptor in the JSON")
	return c
}

// faceFinder is what `faces` needs from the pipeline; tests substitute a
// fake so they run without the model files.
type faceFinder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// openFaceFinder loads the face pipeline from the fetched models.
var openFaceFinder = func() (faceFinder, error) {
	dir, err := faces.ModelDir()
	if err != nil {
		return nil, err
	}
	return faces.LoadPipeline(dir)
}

// foundFaces is one photo of `faces --json`.
type foundFaces struct {
	Image  string      `json:"image"`
	Width  int         `json:"width,omitempty"`
	Height int         `json:"height,omitempty"`
	Faces  []foundFace `json:"faces"`
	Error  string      `json:"error,omitempty"`
}

type foundFace struct {
	Box        [4]float64   `json:"box"` // x, y, w, h in pixels of the upright photo
	Score      float64      `json:"score"`
	Landmarks  [][2]float64 `json:"landmarks,omitempty"`
	Descriptor []float32    `json:"descriptor,omitempty"`
}

// runFaces finds the faces in each photo. Like predict, a photo that cannot
// be read gets an error entry, the others are still processed, and the exit
// status is then 2.
func runFaces(pos []string, o facesOptions, stdout, stderr io.Writer) error {
	if len(pos) == 0 {
		return usagef("want at least one image")
	}
	outPaths, err := annotatedPaths(o.out, pos)
	if err != nil {
		return err
	}
	finder, err := openFaceFinder()
	if err != nil {
		return err
	}
	results := make([]foundFaces, 0, len(pos))
	failed := 0
	for i, path := range pos {
		r := foundFaces{Image: path, Faces: []foundFace{}}
		img, found, err := findFaces(finder, path)
		if err == nil && outPaths != nil {
			err = writeAnnotated(outPaths[i], img, found)
		}
		if err != nil {
			r.Error = err.Error()
			if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
				r.Error = ie.Reason
			}
			failed++
		}
		if img != nil {
			r.Width, r.Height = img.Bounds().Dx(), img.Bounds().Dy()
		}
		for _, f := range found {
			r.Faces = append(r.Faces, toFoundFace(f, o.descriptors))
		}
		results = append(results, r)
		if !o.json {
			printFound(stdout, stderr, r, outPaths, i)
		}
	}
	if o.json {
		if err := writeJSON(stdout, results); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be processed", failed, len(results))
	}
	return nil
}

func findFaces(finder faceFinder, path string) (image.Image, []faces.Face, error) {
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return nil, nil, err
	}
	found, err := finder.Faces(faces.FromImage(img))
	if err != nil {
		return img, nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, found, nil
}

// annotatedPaths maps each input to its --out file: out itself for one
// photo, out/<name>-faces.png for several (out is then a folder, made if
// missing). It refuses an --out that would overwrite an input photo.
func annotatedPaths(out string, inputs []string) ([]string, error) {
	if out == "" {
		return nil, nil
	}
	if len(inputs) == 1 {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return []string{filepath.Join(out, annotatedName(inputs[0]))}, nil
		}
		if sameFile(out, inputs[0]) {
			return nil, usagef("--out %s would overwrite the input photo", out)
		}
		if !strings.EqualFold(filepath.Ext(out), ".png") {
			return nil, usagef("--out %s: the annotated photo is a PNG; name it .png", out)
		}
		return []string{out}, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: with several photos --out is a folder: %w", out, err)
	}
	paths := make([]string, len(inputs))
	seen := map[string]string{}
	for i, in := range inputs {
		p := filepath.Join(out, annotatedName(in))
		if prev, ok := seen[p]; ok {
			return nil, usagef("%s and %s would both be drawn to %s", prev, in, p)
		}
		seen[p] = in
		paths[i] = p
	}
	return paths, nil
}

func annotatedName(in string) string {
	base := filepath.Base(in)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-faces.png"
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

func writeAnnotated(path string, img image.Image, found []faces.Face) error {
	marks := make([]report.Mark, len(found))
	for i, f := range found {
		marks[i] = report.Mark{Box: pixelRect(f.Box), Label: fmt.Sprintf("%d: %.2f", i+1, f.Score)}
		for _, p := range f.Landmarks {
			marks[i].Points = append(marks[i].Points, image.Pt(int(math.Round(p.X)), int(math.Round(p.Y))))
		}
	}
	drawn, err := report.Annotate(img, marks)
	if err != nil {
		return err
	}
	return report.WritePNG(drawn, path)
}

// pixelRect rounds a box outward to whole pixels.
func pixelRect(b faces.Box) image.Rectangle {
	return image.Rect(int(math.Floor(b.X)), int(math.Floor(b.Y)), int(math.Ceil(b.Right())), int(math.Ceil(b.Bottom())))
}

func toFoundFace(f faces.Face, withDesc bool) foundFace {
	r := foundFace{Box: [4]float64{round2(f.Box.X), round2(f.Box.Y), round2(f.Box.W), round2(f.Box.H)}, Score: round4(f.Score)}
	for _, p := range f.Landmarks {
		r.Landmarks = append(r.Landmarks, [2]float64{round2(p.X), round2(p.Y)})
	}
	if withDesc {
		r.Descriptor = f.Descriptor
	}
	return r
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func printFound(stdout, stderr io.Writer, r foundFaces, outPaths []string, i int) {
	if r.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", r.Image, r.Error)
		return
	}
	switch len(r.Faces) {
	case 0:
		fmt.Fprintf(stdout, "%s: no face found\n", r.Image)
	case 1:
		fmt.Fprintf(stdout, "%s: 1 face\n", r.Image)
	default:
		fmt.Fprintf(stdout, "%s: %d faces\n", r.Image, len(r.Faces))
	}
	for j, f := range r.Faces {
		fmt.Fprintf(stdout, "  %d. box x=%.0f y=%.0f w=%.0f h=%.0f  score %.2f  %d landmarks\n",
			j+1, f.Box[0], f.Box[1], f.Box[2], f.Box[3], f.Score, len(f.Landmarks))
	}
	if outPaths != nil {
		fmt.Fprintf(stdout, "  drawn to %s\n", outPaths[i])
	}
}
