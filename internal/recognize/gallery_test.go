package recognize

import (
	"image"
	"testing"

	"starid/internal/faces"
)

func TestThumbRect(t *testing.T) {
	for _, c := range []struct {
		name string
		b    image.Rectangle
		box  *faces.Box
		want image.Rectangle
	}{
		{"landscape, no face: top-middle square", image.Rect(0, 0, 300, 200), nil, image.Rect(50, 0, 250, 200)},
		{"portrait, no face: a third down", image.Rect(0, 0, 100, 300), nil, image.Rect(0, 66, 100, 166)},
		{"face with margin", image.Rect(0, 0, 200, 200), &faces.Box{X: 80, Y: 90, W: 20, H: 40}, image.Rect(58, 78, 122, 142)},
		{"face at a corner: moved inside", image.Rect(0, 0, 200, 200), &faces.Box{X: 10, Y: 10, W: 20, H: 40}, image.Rect(0, 0, 64, 64)},
		{"face larger than the photo: shrunk", image.Rect(0, 0, 80, 120), &faces.Box{W: 100, H: 100}, image.Rect(0, 10, 80, 90)},
	} {
		if got := ThumbRect(c.b, c.box); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
