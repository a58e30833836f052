package recognize

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/faces"
	"starid/internal/report"
)

// DrawPredictions writes each named photo of preds into dir with its
// faces' boxes and names drawn (Draw), as NAME.png after the photo's file
// name, NAME-2.png and so on for a second photo of the same name so that
// none overwrites another. Photos that could not be read are left out.
// It returns how many pictures it wrote.
func DrawPredictions(dir string, preds []Prediction) (int, error) {
	written := map[string]bool{}
	for _, p := range preds {
		if p.Error != "" {
			continue
		}
		photo, err := Decode(p.Image)
		if err != nil {
			return len(written), err
		}
		found := make([]Face, len(p.Faces))
		for i, a := range p.Faces {
			found[i] = Face{Box: faces.Box{X: float64(a.Box[0]), Y: float64(a.Box[1]), W: float64(a.Box[2]), H: float64(a.Box[3])},
				Name: a.Name, Confidence: a.Confidence, Unknown: a.Unknown}
		}
		img, err := Draw(photo.RGBA(), found)
		if err != nil {
			return len(written), fmt.Errorf("%s: %w", p.Image, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return len(written), err
		}
		base := strings.TrimSuffix(filepath.Base(p.Image), filepath.Ext(p.Image))
		name := base + ".png"
		for n := 2; written[name]; n++ {
			name = fmt.Sprintf("%s-%d.png", base, n)
		}
		if err := report.WritePNG(img, filepath.Join(dir, name)); err != nil {
			return len(written), err
		}
		written[name] = true
	}
	return len(written), nil
}
