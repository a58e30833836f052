package recognize

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/report"
)

// unknownColor marks faces answered "unknown", apart from named ones
// (report's default green).
var unknownColor = color.RGBA{230, 120, 0, 255}

// Draw returns a copy of the photo with each face's box and its answer:
// the name and confidence, or "unknown" in another colour.
func Draw(img image.Image, answers []Answer) (*image.RGBA, error) {
	marks := make([]report.Mark, len(answers))
	for i, a := range answers {
		marks[i] = report.Mark{Box: image.Rect(a.Box[0], a.Box[1], a.Box[0]+a.Box[2], a.Box[1]+a.Box[3]),
			Label: fmt.Sprintf("%s %.0f%%", a.Name, 100*a.Confidence)}
		if a.Unknown {
			marks[i].Label, marks[i].Color = "unknown", unknownColor
		}
	}
	return report.Annotate(img, marks)
}

// NameDrawer is `predict --out DIR`: it writes each named photo with its
// faces' names into Dir as NAME.png (NAME-2.png, ... for a second photo
// whose file has the same name, or when Dir already holds NAME.png: Dir
// may be the photos' own folder, and a drawing must never replace a photo
// or an earlier drawing).
type NameDrawer struct {
	Dir   string
	Err   error // the first drawing that failed; drawing stops there
	drawn map[string]bool
}

// Wrap returns each with every prediction drawn first (photos that could
// not be read are skipped); a nil d, or one without Dir, returns each.
func (d *NameDrawer) Wrap(each func(Prediction)) func(Prediction) {
	if d == nil || d.Dir == "" {
		return each
	}
	return func(p Prediction) {
		if p.Error == "" && d.Err == nil {
			d.Err = d.draw(p)
		}
		if each != nil {
			each(p)
		}
	}
}

// Finish returns the drawing's error, if any, or says on w where the
// pictures went (when there are some).
func (d *NameDrawer) Finish(w io.Writer) error {
	if d.Err == nil && len(d.drawn) > 0 {
		fmt.Fprintf(w, "pictures with the names drawn: %s\n", d.Dir)
	}
	return d.Err
}

func (d *NameDrawer) draw(p Prediction) error {
	photo, err := Decode(p.Image)
	if err != nil {
		return err
	}
	img, err := Draw(photo.RGBA(), p.Faces)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Image, err)
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return err
	}
	if d.drawn == nil {
		d.drawn = map[string]bool{}
	}
	base := strings.TrimSuffix(filepath.Base(p.Image), filepath.Ext(p.Image))
	name := base + ".png"
	for n := 2; d.drawn[name] || exists(filepath.Join(d.Dir, name)); n++ {
		name = fmt.Sprintf("%s-%d.png", base, n)
	}
	d.drawn[name] = true
	return report.WritePNG(img, filepath.Join(d.Dir, name))
}

// CheckDir refuses an out folder that is an existing file before any work
// is done, rather than after every photo has been named.
func (d *NameDrawer) CheckDir() error {
	if d == nil || d.Dir == "" {
		return nil
	}
	if fi, err := os.Stat(d.Dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s is a file, not a folder", d.Dir)
	}
	return nil
}

// exists reports whether anything (even a broken symlink) is at path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
