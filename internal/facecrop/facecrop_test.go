package facecrop

import (
	"image"
	"strings"
	"testing"

	"starid/internal/faces"
)

func TestAround(t *testing.T) {
	photo := image.Rect(0, 0, 100, 80)
	for _, tc := range []struct {
		name   string
		face   faces.Box
		bounds image.Rectangle
		margin float64
		want   image.Rectangle
	}{
		// Side 20*1.5 = 30 around the centre (50, 40).
		{"centred", faces.Box{X: 40, Y: 30, W: 20, H: 20}, photo, 0.25, image.Rect(35, 25, 65, 55)},
		{"no margin", faces.Box{X: 40, Y: 30, W: 20, H: 20}, photo, 0, image.Rect(40, 30, 60, 50)},
		// The longer side decides: a tall box gives a square of 40*1.5.
		{"tall box made square", faces.Box{X: 40, Y: 20, W: 20, H: 40}, photo, 0.25, image.Rect(20, 10, 80, 70)},
		// Sticking out left and top: moved inside, still square.
		{"moved in at the corner", faces.Box{X: 0, Y: 0, W: 20, H: 20}, photo, 0.25, image.Rect(0, 0, 30, 30)},
		{"moved in at the bottom right", faces.Box{X: 85, Y: 70, W: 15, H: 10}, photo, 0.5, image.Rect(70, 50, 100, 80)},
		// Side 60*2 = 120 > both sides: clipped to the photo.
		{"larger than the photo", faces.Box{X: 20, Y: 10, W: 60, H: 60}, photo, 0.5, photo},
		// Side 70*1.5 = 105 > width 100 but < height 120: clipped across, moved down.
		{"wider than the photo", faces.Box{X: 15, Y: 0, W: 70, H: 70}, image.Rect(0, 0, 100, 120), 0.25, image.Rect(0, 0, 100, 105)},
		// Boxes are relative to the photo's corner, wherever its bounds start.
		{"offset bounds", faces.Box{X: 40, Y: 30, W: 20, H: 20}, image.Rect(10, 5, 110, 85), 0.25, image.Rect(45, 30, 75, 60)},
		// Fractional boxes round once, at the end.
		{"fractional", faces.Box{X: 40.3, Y: 30.3, W: 19.6, H: 19.6}, photo, 0.25, image.Rect(35, 25, 64, 54)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Around(tc.face, tc.bounds, tc.margin); got != tc.want {
				t.Errorf("Around(%+v, %v, %v) = %v, want %v", tc.face, tc.bounds, tc.margin, got, tc.want)
			}
		})
	}
}

func TestAlignedChipSide(t *testing.T) {
	for _, tc := range [][2]int{{16, 32}, {64, 128}, {112, 224}, {150, 224}, {224, 224}, {256, 256}} {
		if got := ChipSide(tc[0]); got != tc[1] {
			t.Errorf("ChipSide(%d) = %d, want %d", tc[0], got, tc[1])
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": None, "none": None, "face": Face, "aligned": Aligned} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("eyes"); err == nil || !strings.Contains(err.Error(), `--crop "eyes"`) {
		t.Errorf("ParseMode(eyes): %v", err)
	}
	if None.FindsFaces() || !Face.FindsFaces() || !Aligned.FindsFaces() {
		t.Error("FindsFaces")
	}
}
