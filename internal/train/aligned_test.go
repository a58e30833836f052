package train

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/runs"
)

// boxLandmarks are 68 landmarks of a face in box: the eye points at
// 0.3 and 0.7 across, 0.35 down, all others on the mouth.
func boxLandmarks(b faces.Box) []faces.Point {
	lm := make([]faces.Point, 68)
	for i := range lm {
		p := faces.Point{X: b.X + 0.5*b.W, Y: b.Y + 0.75*b.H}
		switch {
		case i >= 36 && i < 42:
			p = faces.Point{X: b.X + 0.3*b.W, Y: b.Y + 0.35*b.H}
		case i >= 42 && i < 48:
			p = faces.Point{X: b.X + 0.7*b.W, Y: b.Y + 0.35*b.H}
		}
		lm[i] = p
	}
	return lm
}

// fakeChips is a ChipMaker that records its arguments and cuts a
// side x side nearest-neighbour window centred between the eyes, a pixel
// per chip pixel: enough to give the network other inputs than the photo.
type fakeChips struct {
	mu    sync.Mutex
	calls []struct {
		padding float64
		side    int
	}
}

func (f *fakeChips) chip(img *image.RGBA, lm []faces.Point, padding float64, side int) (*image.RGBA, error) {
	f.mu.Lock()
	f.calls = append(f.calls, struct {
		padding float64
		side    int
	}{padding, side})
	f.mu.Unlock()
	if len(lm) != 68 {
		return nil, errors.New("no landmarks")
	}
	cx, cy := int((lm[36].X+lm[42].X)/2), int(lm[36].Y)
	out := image.NewRGBA(image.Rect(0, 0, side, side))
	b := img.Rect
	for y := range side {
		for x := range side {
			sx := min(max(cx-side/2+x, b.Min.X), b.Max.X-1)
			sy := min(max(cy-side/2+y, b.Min.Y), b.Max.Y-1)
			out.SetRGBA(x, y, img.RGBAAt(sx, sy))
		}
	}
	return out, nil
}

func alignedConfig(dataDir, out string, f *fakeFinder, chips *fakeChips) Config {
	c := tinyConfig(dataDir, out, 2)
	c.Crop, c.CropMargin, c.FaceBoxes, c.AlignChip, c.FacePipeline = "aligned", 0.5, f.find, chips.chip, "test-pipeline"
	return c
}

func TestFaceWarper(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 30, 20))
	bad := errors.New("unreadable")
	lm := boxLandmarks(faces.Box{X: 5, Y: 5, W: 10, H: 10})
	var got [][]faces.Point
	chip := image.NewRGBA(image.Rect(0, 0, 8, 8))
	warp := FaceWarper(map[int]FaceFind{
		0: {Box: faces.Box{X: 5, Y: 5, W: 10, H: 10}, Found: true, Landmarks: lm},
		1: {},
		2: {Err: bad},
	}, func(_ *image.RGBA, l []faces.Point) (*image.RGBA, error) {
		got = append(got, l)
		return chip, nil
	})
	checkSamples(t, warp, img, []sampleCase[*image.RGBA]{
		{0, chip, ""},
		{1, img, ""}, // no face: the whole photo
		{2, nil, "unreadable"},
		{3, nil, "no face search"},
	})
	if len(got) != 1 || &got[0][0] != &lm[0] {
		t.Errorf("chip maker called %d times, or not with the sample's landmarks", len(got))
	}
}

// TestTrainAligned: a crop=aligned run asks the finder for landmarks, cuts
// one chip per photo with a face (the loader caches it) with the run's
// padding and facecrop.ChipSide, uses photos without a face whole, lists
// them and the photos that cannot be aligned, records crop, padding, chip
// size and pipeline in model.json, and trains on the chips.
func TestTrainAligned(t *testing.T) {
	dataDir := makeShapes(t, 2, 6)
	finder := &fakeFinder{box: faces.Box{X: 4, Y: 4, W: 6, H: 6}, table: map[string]FaceFind{
		"classA/01.png": {},
		"classB/02.png": {Err: errors.New("the describer broke")},
		"classB/03.png": {Box: faces.Box{X: 4, Y: 4, W: 6, H: 6}, Found: true}, // no landmarks
	}}
	chips := &fakeChips{}
	out := filepath.Join(t.TempDir(), "aligned")
	_, o := mustTrain(t, alignedConfig(dataDir, out, finder, chips), nil)
	if len(finder.marks) != 1 || !finder.marks[0] || len(finder.asked) != 12 {
		t.Errorf("finder: landmarks asked %v, %d photos", finder.marks, len(finder.asked))
	}
	side := facecrop.ChipSide(16)
	if side != 32 {
		t.Fatalf("facecrop.ChipSide(16) = %d, want 32", side)
	}
	// 12 photos: one without a face, two that cannot be used; each of the
	// other nine warped once over two epochs.
	if len(chips.calls) != 9 {
		t.Errorf("%d chips cut, want 9", len(chips.calls))
	}
	for _, c := range chips.calls {
		if c.padding != 0.5 || c.side != side {
			t.Errorf("chip cut with padding %v side %d, want 0.5 and %d", c.padding, c.side, side)
		}
	}
	log, _ := os.ReadFile(filepath.Join(out, runs.LogFile))
	for _, want := range []string{
		"aligned faces (padding 0.5, 32x32 chips): a face in 9 of 12 photos; 1 without one (",
		filepath.Join(dataDir, "classA", "01.png") + ": no face found, the whole photo is used",
		filepath.Join(dataDir, "classB", "03.png") + ": cannot align the face (the photo is skipped): the face finder gave no landmarks",
	} {
		if !strings.Contains(o.stderr.String(), want) || !strings.Contains(string(log), want) {
			t.Errorf("stderr or train.log lacks %q:\n%s", want, o.stderr.String())
		}
	}
	if !strings.Contains(string(log), "--crop aligned --crop-margin 0.5") {
		t.Errorf("train.log's command line lacks the crop:\n%s", log)
	}
	info, err := runs.ReadModelInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Crop != "aligned" || info.CropMargin != 0.5 || info.ChipSize != side || info.PipelineVersion != "test-pipeline" {
		t.Errorf("model.json: crop %q, padding %v, chip %d, pipeline %q", info.Crop, info.CropMargin, info.ChipSize, info.PipelineVersion)
	}
	none := filepath.Join(t.TempDir(), "none")
	mustTrain(t, tinyConfig(dataDir, none, 2), nil)
	if ok, _ := sameTensors(tensorBits(t, filepath.Join(out, runs.LastFile)), tensorBits(t, filepath.Join(none, runs.LastFile))); ok {
		t.Error("training on aligned chips gave the same weights as training on whole photos")
	}
}

// TestResumeAligned: a resumed aligned run cuts chips of the size in its
// model.json, not of today's facecrop.ChipSide, and refuses to go on without
// a chip maker.
func TestResumeAligned(t *testing.T) {
	dataDir := makeShapes(t, 2, 4)
	finder, chips := &fakeFinder{box: faces.Box{X: 3, Y: 3, W: 8, H: 8}}, &fakeChips{}
	out := filepath.Join(t.TempDir(), "run")
	var o runOutput
	kill := &hooks{committed: func(r runs.EpochRecord) error { return errKilled }}
	if _, err := Train(context.Background(), alignedConfig(dataDir, out, finder, chips), o.output(kill)); !errors.Is(err, errKilled) {
		t.Fatalf("first part: %v", err)
	}
	// As if the run had been made when chips were 24 pixels.
	b, err := os.ReadFile(filepath.Join(out, runs.ModelInfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["chip_size"] = 24
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, runs.ModelInfoFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	resume := func(edit func(*Config)) (*Summary, error) {
		r := withDefaults(Config{Settings: runs.Settings{Data: dataDir, Out: out, Model: tinyModel, Resume: true, Given: []string{"model", "resume"}}})
		r.Workers, r.FaceBoxes, r.AlignChip = 2, finder.find, chips.chip
		edit(&r)
		var o runOutput
		return Train(context.Background(), r, o.output(nil))
	}
	if _, err := resume(func(c *Config) { c.AlignChip = nil }); err == nil || !strings.Contains(err.Error(), "no chip maker") {
		t.Errorf("resume without a chip maker: %v", err)
	}
	chips.calls = nil
	if sum, err := resume(func(*Config) {}); err != nil || sum.Epochs != 2 {
		t.Fatalf("resume: %v", err)
	}
	if len(chips.calls) == 0 {
		t.Fatal("the resumed run cut no chips")
	}
	for _, c := range chips.calls {
		if c.side != 24 || c.padding != 0.5 {
			t.Errorf("resumed run cut a chip of side %d, padding %v; want model.json's 24 and 0.5", c.side, c.padding)
		}
	}
	if info, err := runs.ReadModelInfo(out); err != nil || info.ChipSize != 24 {
		t.Errorf("model.json chip size after the resume: %v", err)
	}
}

// TestAlignedNeedsChipMaker: a new aligned run without a chip maker fails
// before leaving a run folder behind.
func TestAlignedNeedsChipMaker(t *testing.T) {
	dataDir := makeShapes(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	c := alignedConfig(dataDir, out, &fakeFinder{}, &fakeChips{})
	c.AlignChip = nil
	refusedBeforeFolder(t, c, out, "--crop aligned: no chip maker")
}
