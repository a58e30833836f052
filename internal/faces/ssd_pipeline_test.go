package faces

import (
	"path/filepath"
	"testing"
)

// In sample2 the tiny detector misses the woman in profile on the left;
// the group look with the SSD finds her, and no face twice.
func TestPipelineSSDFindsTurnedHead(t *testing.T) {
	p, dir := realPipeline(t)
	ssd, _ := loadReal(t, LoadSSD)
	img := loadPhoto(t, filepath.Join(dir, "demo", "sample2.jpg"))
	q := *p
	q.SSD, q.SSDUse, q.SSDMinScore = nil, 0, SSDMinScore
	without, err := q.Faces(img)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture must be one the tiny detector gets wrong, or this test
	// no longer tests the SSD.
	if len(without) != 2 {
		t.Fatalf("without the SSD %d faces (%v), want the two the tiny detector sees", len(without), boxes(without))
	}
	q.SSD, q.SSDUse = ssd, SSDForGroups
	with, err := q.Faces(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(with) != 3 {
		t.Fatalf("with the SSD %d faces (%v), want 3", len(with), boxes(with))
	}
	profile := false
	for _, f := range with {
		profile = profile || f.Box.Right() < 600 // the profile is left of x=600
		if len(f.Descriptor) != 128 {
			t.Errorf("face %v has a %d-value descriptor", f.Box, len(f.Descriptor))
		}
	}
	if !profile {
		t.Errorf("faces %v: none is the profile on the left", boxes(with))
	}
}
