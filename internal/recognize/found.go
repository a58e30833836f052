package recognize

import (
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/report"
)

// FoundFaces is one photo of `starid faces --json`: the faces the
// pipeline finds, without names.
type FoundFaces struct {
	Image  string      `json:"image"`
	Width  int         `json:"width,omitempty"`
	Height int         `json:"height,omitempty"`
	Faces  []FoundFace `json:"faces"`
	Error  string      `json:"error,omitempty"`
}

type FoundFace struct {
	Box        [4]int       `json:"box"` // x, y, w, h in pixels of the upright photo, as Answer's
	Score      float64      `json:"score"`
	Landmarks  [][2]float64 `json:"landmarks,omitempty"`
	Descriptor []float32    `json:"descriptor,omitempty"`
}

// FindInPhoto finds the faces in the photo at path, drawing them into the
// PNG file drawTo unless it is "". withDesc keeps each face's descriptor.
// Errors are the entry's, so one bad photo does not stop the others.
func FindInPhoto(finder Finder, path, drawTo string, withDesc bool) FoundFaces {
	r := FoundFaces{Image: path, Faces: []FoundFace{}}
	img, found, err := findInFile(finder, path)
	if err == nil && drawTo != "" {
		err = writeAnnotated(drawTo, img, found)
	}
	if err != nil {
		r.Error = ImageErrorText(err)
	}
	if img != nil {
		r.Width, r.Height = img.Bounds().Dx(), img.Bounds().Dy()
	}
	for _, f := range found {
		r.Faces = append(r.Faces, toFoundFace(f, withDesc))
	}
	return r
}

func findInFile(finder Finder, path string) (image.Image, []faces.Face, error) {
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

func toFoundFace(f faces.Face, withDesc bool) FoundFace {
	r := FoundFace{Box: RoundBox(f.Box), Score: round4(f.Score)}
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

// WriteText is the human form: the photo's face count, a line per face,
// and where the drawing went (drawnTo, "" for none); errors go to stderr.
func (r FoundFaces) WriteText(stdout, stderr io.Writer, drawnTo string) {
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
		fmt.Fprintf(stdout, "  %d. box x=%d y=%d w=%d h=%d  score %.2f  %d landmarks\n",
			j+1, f.Box[0], f.Box[1], f.Box[2], f.Box[3], f.Score, len(f.Landmarks))
	}
	if drawnTo != "" {
		fmt.Fprintf(stdout, "  drawn to %s\n", drawnTo)
	}
}

// FindInPhotos runs FindInPhoto on each path, in order, drawing into
// drawTo[i] when drawTo is not nil; each, if not nil, gets every result as
// it is made. failed counts the photos that could not be processed.
func FindInPhotos(finder Finder, paths, drawTo []string, withDesc bool, each func(r FoundFaces, drawnTo string)) (out []FoundFaces, failed int) {
	out = make([]FoundFaces, 0, len(paths))
	for i, path := range paths {
		to := ""
		if drawTo != nil {
			to = drawTo[i]
		}
		r := FindInPhoto(finder, path, to, withDesc)
		if r.Error != "" {
			failed++
		}
		out = append(out, r)
		if each != nil {
			each(r, to)
		}
	}
	return out, failed
}

// DrawPaths maps each input photo to the file `faces --out` draws it to:
// out itself for one photo (or out/<name>-faces.png when out is a
// folder), out/<name>-faces.png for several (out is then a folder). It
// refuses an out that would overwrite an input photo, or two photos drawn
// to one file; nil when out is "".
func DrawPaths(out string, inputs []string) ([]string, error) {
	if out == "" {
		return nil, nil
	}
	if len(inputs) == 1 {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return []string{filepath.Join(out, drawnName(inputs[0]))}, nil
		}
		if data.SameFile(out, inputs[0]) {
			return nil, fmt.Errorf("--out %s would overwrite the input photo", out)
		}
		if !strings.EqualFold(filepath.Ext(out), ".png") {
			return nil, fmt.Errorf("--out %s: the annotated photo is a PNG; name it .png", out)
		}
		return []string{out}, nil
	}
	paths := make([]string, len(inputs))
	seen := map[string]string{}
	for i, in := range inputs {
		p := filepath.Join(out, drawnName(in))
		if prev, ok := seen[p]; ok {
			return nil, fmt.Errorf("%s and %s would both be drawn to %s", prev, in, p)
		}
		seen[p] = in
		paths[i] = p
	}
	return paths, nil
}

func drawnName(in string) string {
	base := filepath.Base(in)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-faces.png"
}
