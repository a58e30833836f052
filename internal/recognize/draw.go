package recognize

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"starid/internal/report"
)

// unknownColor marks faces answered "unknown", apart from named ones
// (report's default green).
var unknownColor = color.RGBA{230, 120, 0, 255}

// Draw returns a copy of the photo with each face's box and its answer:
// the name and confidence, or "unknown" in another colour.
func Draw(img image.Image, found []Face) (*image.RGBA, error) {
	marks := make([]report.Mark, len(found))
	for i, f := range found {
		b := f.Box
		marks[i] = report.Mark{Box: image.Rect(int(math.Floor(b.X)), int(math.Floor(b.Y)), int(math.Ceil(b.X+b.W)), int(math.Ceil(b.Y+b.H))),
			Label: fmt.Sprintf("%s %.0f%%", f.Name, 100*f.Confidence)}
		if f.Unknown {
			marks[i].Label, marks[i].Color = "unknown", unknownColor
		}
	}
	return report.Annotate(img, marks)
}
