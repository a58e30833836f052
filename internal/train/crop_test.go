package train

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"starid/internal/faces"
	"starid/internal/runs"
)

func TestFaceCropper(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	bad := errors.New("unreadable")
	crop := FaceCropper(map[int]FaceFind{
		0: {Box: faces.Box{X: 40, Y: 30, W: 20, H: 20}, Found: true},
		1: {},
		2: {Err: bad},
	}, 0.25)
	checkSamples(t, crop, img, []sampleCase[image.Rectangle]{
		{0, image.Rect(35, 25, 65, 55), ""},
		{1, img.Rect, ""}, // no face: the whole photo
		{2, image.Rectangle{}, "unreadable"},
		{3, image.Rectangle{}, "no face search"},
	})
}

// sampleCase is what a per-sample cutter should answer for one sample:
// want, or an error containing wantErr.
type sampleCase[T comparable] struct {
	sample  int
	want    T
	wantErr string
}

// checkSamples holds cut, run on img as each case's sample, to the cases.
// Pointers are compared (and printed) as addresses: a cutter hands back
// the very image it was given or made.
func checkSamples[T comparable](t *testing.T, cut func(int, *image.RGBA) (T, error), img *image.RGBA, cases []sampleCase[T]) {
	t.Helper()
	for _, tc := range cases {
		got, err := cut(tc.sample, img)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("sample %d: err %v, want %q", tc.sample, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			verb := "%v"
			if reflect.ValueOf(tc.want).Kind() == reflect.Pointer {
				verb = "%p"
			}
			t.Errorf("sample %d: "+verb+", %v; want "+verb, tc.sample, got, err, tc.want)
		}
	}
}

// fakeFinder answers from a table by file name (class/NN.png); photos not
// in it have a face at box, or none with noFaces. It records the photos it
// was asked about.
type fakeFinder struct {
	box     faces.Box
	noFaces bool
	table   map[string]FaceFind
	mu      sync.Mutex
	asked   []string
	marks   []bool // the landmarks argument of each call
}

func (f *fakeFinder) find(_ context.Context, paths, keys []string, landmarks bool) ([]FaceFind, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.marks = append(f.marks, landmarks)
	out := make([]FaceFind, len(paths))
	for i, p := range paths {
		if len(keys[i]) != 64 {
			return nil, errors.New("no scan key for " + p)
		}
		f.asked = append(f.asked, p)
		name := filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(p)), filepath.Base(p)))
		if r, ok := f.table[name]; ok {
			out[i] = r
		} else if !f.noFaces {
			out[i] = FaceFind{Box: f.box, Found: true}
			if landmarks {
				out[i].Landmarks = boxLandmarks(f.box)
			}
		}
	}
	return out, nil
}

func faceCropConfig(dataDir, out string, f *fakeFinder) Config {
	c := tinyConfig(dataDir, out, 2)
	c.Crop, c.CropMargin, c.FaceBoxes = "face", 0.25, f.find
	return c
}

// TestTrainFaceCrop: a crop=face run asks the finder about every photo,
// lists those without a face, skips those that could not be searched,
// records the margin in model.json, trains on the crops (different weights
// from whole photos), and with no face anywhere trains exactly like a
// crop=none run.
func TestTrainFaceCrop(t *testing.T) {
	dataDir := makeShapes(t, 2, 8)
	finder := &fakeFinder{box: faces.Box{X: 4, Y: 4, W: 6, H: 6}, table: map[string]FaceFind{
		"classA/01.png": {},
		"classB/02.png": {},
		"classB/03.png": {Err: errors.New("the describer broke")},
	}}
	out := filepath.Join(t.TempDir(), "crop")
	sum, o := mustTrain(t, faceCropConfig(dataDir, out, finder), nil)
	if len(finder.asked) != 16 || !slices.Equal(finder.marks, []bool{false}) {
		t.Errorf("finder asked about %d photos (landmarks %v), want all 16 in one call without landmarks", len(finder.asked), finder.marks)
	}
	if sum.History[0].Skipped != 1 || sum.History[1].Skipped != 0 {
		t.Errorf("skipped per epoch %d, %d; want the unsearchable photo once", sum.History[0].Skipped, sum.History[1].Skipped)
	}
	log, _ := os.ReadFile(filepath.Join(out, runs.LogFile))
	for _, want := range []string{
		"face crops (margin 0.25): a face in 13 of 16 photos; 2 without one (",
		filepath.Join(dataDir, "classA", "01.png") + ": no face found, the whole photo is used",
		filepath.Join(dataDir, "classB", "02.png") + ": no face found, the whole photo is used",
		filepath.Join(dataDir, "classB", "03.png") + ": cannot look for faces (the photo is skipped): the describer broke",
	} {
		for what, text := range map[string]string{"stderr": o.stderr.String(), "train.log": string(log)} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", what, want, text)
			}
		}
	}
	if !strings.Contains(string(log), "--crop face --crop-margin 0.25") {
		t.Errorf("train.log's command line lacks the crop:\n%s", log)
	}
	info, err := runs.ReadModelInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Crop != "face" || info.CropMargin != 0.25 || info.Config.CropMargin != 0.25 {
		t.Errorf("model.json: crop %q, margin %v, config margin %v", info.Crop, info.CropMargin, info.Config.CropMargin)
	}

	none := filepath.Join(t.TempDir(), "none")
	mustTrain(t, tinyConfig(dataDir, none, 2), nil)
	if ok, _ := sameTensors(tensorBits(t, filepath.Join(out, runs.LastFile)), tensorBits(t, filepath.Join(none, runs.LastFile))); ok {
		t.Error("training on face crops gave the same weights as training on whole photos")
	}
	if info, err := runs.ReadModelInfo(none); err != nil || info.Crop != "none" || info.CropMargin != 0 || info.Config.CropMargin != 0 {
		t.Errorf("crop=none model.json: %+v, %v", info, err)
	}

	nobody := &fakeFinder{noFaces: true}
	fallback := filepath.Join(t.TempDir(), "fallback")
	mustTrain(t, faceCropConfig(dataDir, fallback, nobody), nil)
	if ok, where := sameTensors(tensorBits(t, filepath.Join(fallback, runs.LastFile)), tensorBits(t, filepath.Join(none, runs.LastFile))); !ok {
		t.Errorf("a crop=face run without faces differs from a whole-photo run at %s", where)
	}
}

// TestResumeFaceCrop: a crop=face run resumes from flags that do not
// mention the crop (model.json has it) and ends as an uninterrupted run;
// a different margin is refused, and so is a resume without a finder.
func TestResumeFaceCrop(t *testing.T) {
	dataDir := makeShapes(t, 2, 6)
	finder := &fakeFinder{box: faces.Box{X: 3, Y: 3, W: 8, H: 8}}
	straight := filepath.Join(t.TempDir(), "straight")
	mustTrain(t, faceCropConfig(dataDir, straight, finder), nil)

	out := filepath.Join(t.TempDir(), "run")
	var o runOutput
	kill := &hooks{committed: func(r runs.EpochRecord) error { return errKilled }}
	if _, err := Train(context.Background(), faceCropConfig(dataDir, out, finder), o.output(kill)); !errors.Is(err, errKilled) {
		t.Fatalf("first part: %v", err)
	}
	resume := func(edit func(*Config)) (*Summary, error) {
		r := withDefaults(Config{Settings: runs.Settings{Data: dataDir, Out: out, Model: tinyModel, Resume: true, Given: []string{"model", "resume"}}})
		r.Workers = 2
		r.FaceBoxes = finder.find
		edit(&r)
		var o runOutput
		return Train(context.Background(), r, o.output(nil))
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"other margin", func(c *Config) {
			c.Crop, c.CropMargin, c.Given = "face", 0.5, append(c.Given, "crop", "crop-margin")
		}, `--crop-margin: run has "0.25", flags say "0.5"`},
		{"no finder", func(c *Config) { c.FaceBoxes = nil }, "no face finder"},
	} {
		if _, err := resume(tc.edit); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	sum, err := resume(func(*Config) {})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Epochs != 2 {
		t.Fatalf("resumed run ended at epoch %d", sum.Epochs)
	}
	if ok, where := sameTensors(tensorBits(t, filepath.Join(out, runs.LastFile)), tensorBits(t, filepath.Join(straight, runs.LastFile))); !ok {
		t.Errorf("resumed crop=face run differs from the uninterrupted one at %s", where)
	}
}

// TestFaceCropNeedsFinder: a new crop=face run without a finder fails
// before leaving a run folder behind.
func TestFaceCropNeedsFinder(t *testing.T) {
	dataDir := makeShapes(t, 2, 4)
	out := filepath.Join(t.TempDir(), "run")
	c := faceCropConfig(dataDir, out, &fakeFinder{})
	c.FaceBoxes = nil
	refusedBeforeFolder(t, c, out, "no face finder")
}

// refusedBeforeFolder checks that Train refuses c with an error saying
// want, and that it did so before making the run folder out.
func refusedBeforeFolder(t *testing.T, c Config, out, want string) {
	t.Helper()
	var o runOutput
	if _, err := Train(context.Background(), c, o.output(nil)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the failed run left its folder")
	}
}
