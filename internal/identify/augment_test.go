package identify

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// TestTestScoresAnswersBySurestFace: a test photo whose largest face is a
// stranger's and whose smaller face is the person's is right in the run's
// readout, as eval (Model.IdentifyPhoto) answers it, not wrong as its main
// face alone would make it.
func TestTestScoresAnswersBySurestFace(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	x, y, _, _ := fakeFaces(r, 3)
	classes := []string{"a", "b", "c"}
	hc := HeadConfig{Epochs: 40, Batch: 16, Optimizer: "adam", LR: 1e-2, Seed: 1}
	rule, _, err := Calibrate(context.Background(), classes, x, y, hc, 0.02)
	must(t, err)
	m, err := Fit(context.Background(), classes, x, y, hc, nil)
	must(t, err)
	face := func(p int, side float64) faces.Face {
		return faces.Face{Detection: faces.Detection{Box: faces.Box{W: side, H: side}, Score: 0.9},
			Descriptor: identifytest.Descriptor(p, 128, 128)}
	}
	// Person 9 is no one's; the main face (largest, same score) is theirs.
	photo := []faces.Face{face(9, 80), face(1, 40)}
	if faces.MainFace(photo) != 0 {
		t.Fatal("the stranger's face should be the main face")
	}
	test := [][]faces.Face{photo, {face(2, 50)}, nil}
	want := []int{1, 2, 0}
	acc, _, unknown := testScores(m, test, want, rule, rule)
	if math.Abs(acc-2.0/3) > 1e-9 || unknown != 0 {
		t.Errorf("open-set accuracy %v (%d unknown), want 2/3 (the faceless photo is the only error)", acc, unknown)
	}
	closed, _, _ := testScores(m, test, want, rule, Rule{MaxDistance: math.Inf(1)})
	if math.Abs(closed-2.0/3) > 1e-9 {
		t.Errorf("closed-set accuracy %v, want 2/3", closed)
	}
}

// TestCalibrateGroups: copies of a photo do not count as other photos of
// the person. With each photo repeated, plain leave-one-out sees the copy
// and measures distances near 0; leaving out the whole group measures what
// a new photo meets, as without the copies.
func TestCalibrateGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	x, y, _, _ := fakeFaces(r, 4)
	classes := []string{"a", "b", "c", "d"}
	ctx := context.Background()
	plain, _, err := CalibrateGroups(ctx, classes, x, y, nil, len(x), 0.02)
	must(t, err)
	if same, _, err := Calibrate(ctx, classes, x, y, HeadConfig{}, 0.02); err != nil || same != plain {
		t.Errorf("Calibrate %v, CalibrateGroups without groups %v (%v)", same, plain, err)
	}
	n := len(x)
	xx, yy := append(x[:n:n], x...), append(y[:n:n], y...)
	group := make([]int, 2*n)
	for i := range group {
		group[i] = i % n
	}
	grouped, cal, err := CalibrateGroups(ctx, classes, xx, yy, group, n, 0.02)
	must(t, err)
	if cal.Samples != n || math.Abs(grouped.MaxDistance-plain.MaxDistance) > 1e-6 {
		t.Errorf("grouped copies: limit %v on %d samples, want %v on %d", grouped.MaxDistance, cal.Samples, plain.MaxDistance, n)
	}
	naive, _, err := Calibrate(ctx, classes, xx, yy, HeadConfig{}, 0.02)
	must(t, err)
	if !(naive.MaxDistance < plain.MaxDistance) {
		t.Errorf("ungrouped copies give limit %v, want below %v (the copy sits in its own centroid)", naive.MaxDistance, plain.MaxDistance)
	}
	if _, _, err := CalibrateGroups(ctx, classes, xx, yy, group[:3], n, 0.02); err == nil {
		t.Error("groups of the wrong length accepted")
	}
}

// TestChipAugmentations: each perturbation keeps the chip's size and
// changes it as named (a mirror twice is the chip; a blur keeps a flat
// chip flat and smooths an edge along its direction only).
func TestChipAugmentations(t *testing.T) {
	chip := faces.NewImage(20, 20)
	for y := range 20 {
		for x := range 20 {
			v := float32(0)
			if x >= 10 {
				v = 200
			}
			for ch := range 3 {
				chip.Pix[(y*20+x)*3+ch] = v + float32(ch)
			}
		}
	}
	if back := mirrorChip(mirrorChip(chip)); !equalPix(back, chip) {
		t.Error("mirrored twice is not the chip")
	}
	if m := mirrorChip(chip); m.At(0, 0, 0) != 200 || m.At(19, 0, 0) != 0 {
		t.Errorf("mirror: left %v right %v", m.At(0, 0, 0), m.At(19, 0, 0))
	}
	// A vertical edge: a vertical shake leaves it, a horizontal one blurs it.
	if v := motionBlurChip(chip, 5, 90); !equalPix(v, chip) {
		t.Error("vertical blur changed a vertical edge")
	}
	h := motionBlurChip(chip, 5, 0)
	if got := h.At(9, 5, 0); got != 80 { // two of five samples on the bright side
		t.Errorf("horizontal blur at the edge: %v, want 80", got)
	}
	if g := grayChip(chip); g.At(15, 0, 0) != g.At(15, 0, 2) {
		t.Error("gray chip has colour")
	}
	if g := gammaChip(chip, 2); math.Abs(float64(g.At(15, 0, 0))-255*math.Pow(200.0/255, 2)) > 1e-3 {
		t.Errorf("gamma 2 of 200: %v", g.At(15, 0, 0))
	}
	j, err := jpegChip(chip, 25)
	if err != nil || j.W != 20 || j.H != 20 {
		t.Fatalf("jpeg: %v", err)
	}
	marks := make([]faces.Point, faces.NumLandmarks)
	for i := range marks {
		marks[i] = faces.Point{X: float64(i % 10), Y: float64(i / 10)}
	}
	if got := movedMarks(marks, Augmentation{}); &got[0] != &marks[0] {
		t.Error("no move should keep the landmarks")
	}
	z := movedMarks(marks, Augmentation{Zoom: 2})
	if d0, d1 := marks[1].X-marks[0].X, z[1].X-z[0].X; math.Abs(d1-d0/2) > 1e-9 {
		t.Errorf("zoom 2 spaced landmarks %v apart, want %v", d1, d0/2)
	}
}

func equalPix(a, b *faces.Image) bool {
	if a.W != b.W || a.H != b.H {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}

// augFake is the test fake as an Augmenter.
type augFake struct{ *identifytest.Fake }

func (a augFake) AugmentFace(img *faces.Image, f faces.Face, augs []Augmentation) ([][]float32, error) {
	return a.Fake.AugmentFace(img, f, len(augs))
}

// TestTrainAugmented: a face run with --augment trains on every training
// face and its copies, calibrates on the photos as taken, and a second run
// takes the copies from the cache.
func TestTrainAugmented(t *testing.T) {
	photos := makeFolder(t, people, 10)
	fake := augFake{&identifytest.Fake{}}
	c := testCache(t)
	cfg := trainConfig(photos, filepath.Join(t.TempDir(), "run"), c)
	cfg.Augment = true
	res, err := Train(context.Background(), cfg, fake, runs.Output{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(DefaultAugmentations())
	if res.Calibration.TargetFalseRejection != AugmentedTargetFRR {
		t.Errorf("augmented run calibrated to %v, want %v", res.Calibration.TargetFalseRejection, AugmentedTargetFRR)
	}
	if res.Calibration.Samples != res.Train {
		t.Errorf("calibrated on %d descriptors, want the %d training photos as taken", res.Calibration.Samples, res.Train)
	}
	run, err := OpenFaceRun(cfg.Out)
	must(t, err)
	if got := len(run.Model.Train); got != res.Train*(1+n) {
		t.Errorf("%d training descriptors, want %d photos x %d", got, res.Train, 1+n)
	}
	if res.TestAccOpenSet != 1 {
		t.Errorf("open-set test accuracy %v, want 1 on the fake's easy faces", res.TestAccOpenSet)
	}
	calls := fake.Calls()
	cfg.Out = filepath.Join(t.TempDir(), "run2")
	res2, err := Train(context.Background(), cfg, fake, runs.Output{})
	must(t, err)
	// The fake's cache entries have no landmarks, so its photos are
	// described again; the augmented copies come from their cache.
	if got := fake.Calls() - calls; got != res.Train+res.Test {
		t.Errorf("second run made %d describer calls, want %d (no augmentation)", got, res.Train+res.Test)
	}
	if res2.Rule != res.Rule {
		t.Errorf("second run's rule %v, first %v", res2.Rule, res.Rule)
	}
	// A describer that cannot augment is an error, not a silent plain run.
	cfg.Out = filepath.Join(t.TempDir(), "run3")
	if _, err := Train(context.Background(), cfg, &identifytest.Fake{}, runs.Output{}); err == nil || !strings.Contains(err.Error(), "cannot describe augmented") {
		t.Errorf("plain fake with --augment: %v", err)
	}
}
