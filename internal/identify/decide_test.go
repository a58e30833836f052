package identify

import (
	"context"
	"math/rand/v2"
	"testing"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify/identifytest"
)

// fakeSet is n descriptors of each of people 0..k-1 from the fake.
func fakeSet(r *rand.Rand, k, n int) ([][]float32, []int) {
	var x [][]float32
	var y []int
	for p := range k {
		for range n {
			x = append(x, identifytest.Descriptor(p, uint8(r.IntN(256)), uint8(r.IntN(256))))
			y = append(y, p)
		}
	}
	return x, y
}

func face(desc []float32, size, score float64) faces.Face {
	return faces.Face{Detection: faces.Detection{Box: faces.Box{W: size, H: size}, Score: score}, Descriptor: desc}
}

// A photo is answered by the face the model is surest of, not by the
// largest or best-scored one when that is a stranger; with no face named it
// speaks of the main face.
func TestIdentifyPhoto(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	x, y := fakeSet(r, 4, 20)
	classes := []string{"a", "b", "c", "d"}
	hc := HeadConfig{Epochs: 40, Batch: 16, Optimizer: "adam", LR: 1e-2, Seed: 1}
	m, err := Fit(context.Background(), classes, x, y, hc, nil)
	must(t, err)
	rule, _, err := Calibrate(context.Background(), classes, x, y, hc, 0.01)
	must(t, err)
	stranger := func() []float32 { return identifytest.Descriptor(7, uint8(r.IntN(256)), uint8(r.IntN(256))) }
	known := identifytest.Descriptor(2, 128, 128)

	// The stranger is larger and surer for the detector: the main face.
	fs := []faces.Face{face(stranger(), 200, 0.95), face(known, 80, 0.6)}
	if faces.MainFace(fs) != 0 {
		t.Fatal("fixture: the stranger must be the main face")
	}
	if i, a := m.IdentifyPhoto(fs, rule, 1); i != 1 || a.Name != "c" {
		t.Errorf("stranger beside c: face %d answered %q, want face 1 named c", i, a.Name)
	}
	// Two strangers: unknown, about the main face.
	fs = []faces.Face{face(stranger(), 200, 0.95), face(stranger(), 80, 0.6)}
	if i, a := m.IdentifyPhoto(fs, rule, 1); i != 0 || a.Class != eval.Unknown {
		t.Errorf("two strangers: face %d answered %q, want the main face, unknown", i, a.Name)
	}
	if i, _ := m.IdentifyPhoto(nil, rule, 1); i != -1 {
		t.Errorf("no faces: face %d, want -1", i)
	}
}

// The calibrated limit comes from the whole distribution of leave-one-out
// distances: a smaller target gives a larger limit, a person whose photos
// are near-duplicates does not loosen it, and a target outside (0, 1) is
// refused.
func TestCalibrateFit(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	x, y := fakeSet(r, 5, 30)
	classes := []string{"a", "b", "c", "d", "e", "f"}
	hc := HeadConfig{Epochs: 1, Batch: 16, Seed: 1}
	limit := func(x [][]float32, y []int, target float64) float64 {
		rule, cal, err := Calibrate(context.Background(), classes, x, y, hc, target)
		must(t, err)
		if rule.MinProbability != 0 || cal.FalseRejection > 4*target+0.02 {
			t.Errorf("target %v: rule %+v calibration %+v", target, rule, cal)
		}
		return rule.MaxDistance
	}
	l1, l05 := limit(x, y, 0.01), limit(x, y, 0.005)
	if !(l05 > l1) {
		t.Errorf("limit %v at 0.5%%, %v at 1%%: a smaller target must allow more", l05, l1)
	}
	// Person 5: ten copies of one photo, barely changed.
	dx, dy := x, y
	for i := range 10 {
		d := identifytest.Descriptor(5, 100, 100)
		d[0] += float32(i) * 1e-5
		dx, dy = append(dx, d), append(dy, 5)
	}
	if ld := limit(dx, dy, 0.01); ld > 1.1*l1 {
		t.Errorf("near-duplicates loosened the limit from %v to %v", l1, ld)
	}
	for _, bad := range []float64{0, 1, -0.1} {
		if _, _, err := Calibrate(context.Background(), classes, x, y, hc, bad); err == nil {
			t.Errorf("target %v accepted", bad)
		}
	}
}
