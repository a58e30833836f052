package faces

import (
	"math"
	"testing"
)

func TestChipTemplate(t *testing.T) {
	near := func(a, b Point, tol float64) bool { return math.Abs(a.X-b.X) <= tol && math.Abs(a.Y-b.Y) <= tol }
	// The recognition net's own chip.
	got := ChipTemplate(150, 0.25)
	if got.Size != 150 || !near(got.LeftEye, DefaultTemplate.LeftEye, 1e-12) || !near(got.RightEye, DefaultTemplate.RightEye, 1e-12) ||
		!near(got.Mouth, DefaultTemplate.Mouth, 1e-12) {
		t.Errorf("ChipTemplate(150, 0.25) = %+v, want DefaultTemplate %+v", got, DefaultTemplate)
	}
	for _, tc := range []struct {
		name    string
		size    int
		padding float64
		// dlib's mean-shape centres (align.go) under (padding + m) / (1 + 2*padding).
		left, right, mouth Point
	}{
		{"no padding: the mean shape itself", 100, 0, Point{0.2255, 0.2160}, Point{0.7548, 0.2160}, Point{0.4901, 0.8042}},
		{"half", 128, 0.5, Point{0.36275, 0.3580}, Point{0.6274, 0.3580}, Point{0.49505, 0.6521}},
		{"one", 64, 1, Point{0.40850, 0.4053}, Point{0.5849, 0.4053}, Point{0.49670, 0.6014}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := ChipTemplate(tc.size, tc.padding)
			// DefaultTemplate's numbers are rounded to 4 places, so the
			// mean shape comes back to about 1.5e-4.
			if g.Size != tc.size || !near(g.LeftEye, tc.left, 2e-4) || !near(g.RightEye, tc.right, 2e-4) || !near(g.Mouth, tc.mouth, 2e-4) {
				t.Errorf("ChipTemplate(%d, %v) = %+v, want eyes %v %v mouth %v", tc.size, tc.padding, g, tc.left, tc.right, tc.mouth)
			}
		})
	}
	// More padding, smaller face: the eye distance shrinks by (1.5)/(1+2p).
	d := func(t Template) float64 { return t.RightEye.X - t.LeftEye.X }
	if r := d(ChipTemplate(64, 0.5)) / d(DefaultTemplate); math.Abs(r-1.5/2) > 1e-12 {
		t.Errorf("eye distance ratio at padding 0.5: %v, want 0.75", r)
	}
}
