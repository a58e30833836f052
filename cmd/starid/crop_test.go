package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/eval/runeval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/recognize"
	"starid/internal/runs"
	"starid/internal/tensor"
)

// TestCropFace trains a VGG run on face crops through the command line
// with the fake describer, then checks that eval repeats the training's
// test accuracy (so it cut the same crops), that the faces are described
// once for all three commands (the cache), and that predict names each
// face of a photo on its crop and a photo without a face whole.
func TestCropFace(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network for two epochs")
	}
	fake := useFakeFaces(t)
	dir, photos, run, noFace := cropFixture(t)
	r := trainCropRun(t, photos, run, []string{"--crop", "face", "--crop-margin", "0.5"},
		"faces: 13 photos, 13 computed, 0 from the cache", "a face in 12 of 13 photos; 1 without one",
		noFace+": no face found, the whole photo is used")
	if r.Info.Crop != "face" || r.Info.CropMargin != 0.5 || r.Info.PipelineVersion != faces.PipelineVersion {
		t.Fatalf("model.json: crop %q margin %v pipeline %q", r.Info.Crop, r.Info.CropMargin, r.Info.PipelineVersion)
	}

	ev, errOut := runCropEval(t, run)
	if ev.N == 0 || ev.Accuracy != r.Info.BestTestAcc || ev.FaceCrop == nil || ev.FaceCrop.Margin != 0.5 {
		t.Errorf("eval: n %d accuracy %v (training's best %v), face_crop %+v", ev.N, ev.Accuracy, r.Info.BestTestAcc, ev.FaceCrop)
	}
	if fake.Calls() != 13 || !strings.Contains(errOut, fmt.Sprintf("0 computed, %d from the cache", ev.N)) {
		t.Errorf("eval described again: %d describer calls, stderr:\n%s", fake.Calls(), errOut)
	}

	// The loader crop eval builds cuts what facecrop.Around gives for
	// the describer's box, and a photo without a face whole.
	ds, all := scanAll(t, photos)
	crop, res, err := runeval.FaceCrops(r.Info, ds, all, runeval.Options{FindFaces: describing("", 1, faces.AutoDetector, io.Discard).CropFinder()})
	if err != nil {
		t.Fatal(err)
	}
	checkOneNoFace(t, res, noFace)
	for _, i := range all {
		img := decodeRGBA(t, ds.Samples[i].Path)
		want := img.Rect
		if found, _ := fake.Faces(faces.FromImage(img)); len(found) > 0 {
			b := found[0].Box
			want = facecrop.Around(faces.Box{X: b.X, Y: b.Y, W: b.W, H: b.H}, img.Rect, 0.5)
		}
		if got, err := crop(i, img); err != nil || got != want {
			t.Errorf("%s: crop %v (%v), want %v", ds.Samples[i].Path, got, err, want)
		}
	}

	group, drawn, p := predictGroup(t, dir, run, noFace)
	if len(p[0].Faces) != 2 || p[0].Note != "" {
		t.Fatalf("group photo: %+v", p[0])
	}
	img := decodeRGBA(t, group)
	probs := func(box faces.Box, whole bool) []float64 {
		region := facecrop.Around(box, img.Rect, 0.5)
		if whole {
			region = img.Rect
		}
		return runProbs(t, r, img.SubImage(region))
	}
	wholeP := probs(faces.Box{}, true)
	for i, f := range drawn {
		got := p[0].Faces[i]
		if want := [4]int{f.X, f.Y, f.Size, f.Size}; got.Box != want {
			t.Errorf("face %d: box %v, want %v", i+1, got.Box, want)
		}
		want := probs(faces.Box{X: float64(f.X), Y: float64(f.Y), W: float64(f.Size), H: float64(f.Size)}, false)
		for _, c := range got.Top {
			k := slices.Index(r.Info.Classes, c.Name)
			// The same pixels through the same network: equal to the bit.
			if c.Probability != want[k] {
				t.Errorf("face %d: %s %.6f, on its crop %.6f", i+1, c.Name, c.Probability, want[k])
			}
			if c.Probability == wholeP[k] {
				t.Errorf("face %d: %s %.6f is the whole photo's answer", i+1, c.Name, c.Probability)
			}
		}
	}
	checkWholePhoto(t, p[1])

	code, out, _ := runCLI("predict", run, group, noFace)
	for _, want := range []string{group + ": face 1 at [4 10 20 20]: ", group + ": face 2 at [40 20 12 12]: ", noFace + ": no face found, whole photo: "} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("predict: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

// TestCropFacePipelineWarning: a run whose crops came from another face
// pipeline still predicts, with a warning that the crops may differ.
func TestCropFacePipelineWarning(t *testing.T) {
	info := runs.ModelInfo{Crop: "face", PipelineVersion: "face-api-1.7.15/starid-0"}
	if w := recognize.PipelineWarning(info); !strings.Contains(w, `from face pipeline "face-api-1.7.15/starid-0"`) {
		t.Errorf("warning %q", w)
	}
	info.PipelineVersion = faces.PipelineVersion
	w := recognize.PipelineWarning(info)
	info.Crop, info.PipelineVersion = "none", ""
	if w += recognize.PipelineWarning(info); w != "" {
		t.Errorf("unexpected warning %q", w)
	}
}

// TestCropFaceSettings: the margin flag needs face crops, and the face
// models' absence stops a crop=face run before it leaves a folder behind.
func TestCropFaceSettings(t *testing.T) {
	photos := trainUsageErrors(t, []usageCase{
		{"margin without crop", []string{"--crop-margin", "0.3"}, "--crop-margin applies to --crop face and --crop aligned only"},
		{"margin on face runs", []string{"--model", "face", "--crop-margin", "0.3"}, "--crop-margin applies to --crop face and --crop aligned only"},
		{"bad margin", []string{"--crop", "face", "--crop-margin", "5"}, "--crop-margin 5: must be between 0 and 2"},
		{"exclude on vgg", []string{"--exclude", "Ann"}, "--exclude applies to --model face only"},
	})

	useFakeFaces(t)
	newDescriber = func(faces.DetectorChoice) identify.Describer {
		return identify.Lazy(func() (identify.Describer, error) {
			return nil, errors.New("the pretrained face models are missing; run `starid models fetch`")
		})
	}
	out := filepath.Join(t.TempDir(), "run")
	code, _, errOut := runCLI("train", photos, "--model", "vgg16-bn-dropout-light", "--crop", "face", "--size", "32", "--out", out)
	if code != exitInput || !strings.Contains(errOut, "starid models fetch") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("failed crop=face run left its folder behind")
	}
}

// TestFaceRunHasNoCropMargin: face runs pick their own crops, so their
// model.json carries no VGG crop margin.
func TestFaceRunHasNoCropMargin(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople[:2])
	b, err := os.ReadFile(filepath.Join(run, "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "crop_margin") {
		t.Errorf("face run model.json has a crop margin:\n%s", b)
	}
}

// cropFixture is the photo folder of the crop tests: three people with four
// photos of faces each, and Bob's 90.png without a face. It returns the
// temporary folder, the photo folder, the run folder to create and the
// no-face photo.
func cropFixture(t *testing.T) (dir, photos, run, noFace string) {
	t.Helper()
	dir = t.TempDir()
	photos, run = filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	if err := identifytest.Folder(photos, facePeople[:3], 4, 3); err != nil {
		t.Fatal(err)
	}
	noFace = filepath.Join(photos, "Bob", "90.png")
	if err := identifytest.WritePhoto(noFace, 64, 48); err != nil {
		t.Fatal(err)
	}
	return dir, photos, run, noFace
}

// trainCropRun trains the crop tests' small VGG run on photos with the
// crop arguments, checks that train's stderr says each of wantStderr, and
// opens the run.
func trainCropRun(t *testing.T, photos, run string, cropArgs []string, wantStderr ...string) *runs.Run {
	t.Helper()
	args := append([]string{"train", photos, "--model", "vgg16-bn-dropout-light"}, cropArgs...)
	code, _, errOut := runCLI(append(args, "--size", "32", "--epochs", "2", "--batch", "4", "--train-frac", "0.5", "--out", run)...)
	if code != exitOK {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	for _, want := range wantStderr {
		if !strings.Contains(errOut, want) {
			t.Errorf("train stderr lacks %q:\n%s", want, errOut)
		}
	}
	r, err := runs.OpenRun(run)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scanAll scans a photo folder and lists every sample's index.
func scanAll(t *testing.T, photos string) (*data.Dataset, []int) {
	t.Helper()
	ds, err := data.Scan(photos, data.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, len(ds.Samples))
	for i := range all {
		all[i] = i
	}
	return ds, all
}

// decodeRGBA decodes a photo as every command does (EXIF applied).
func decodeRGBA(t *testing.T, path string) *image.RGBA {
	t.Helper()
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// checkOneNoFace checks that eval's face search found no face in noFace
// and in no other photo.
func checkOneNoFace(t *testing.T, res *runeval.FaceCropResult, noFace string) {
	t.Helper()
	if res.NoFace != 1 || len(res.NoFaceFiles) != 1 || res.NoFaceFiles[0] != noFace {
		t.Errorf("photos without a face: %+v", res)
	}
}

// runProbs is what the run's network answers for img, cut as the run
// wants: the probabilities a prediction must repeat to the bit.
func runProbs(t *testing.T, r *runs.Run, img image.Image) []float64 {
	t.Helper()
	tf := recognize.Transform(r.Info)
	x := tensor.New(1, 3, tf.Size, tf.Size)
	if err := tf.Apply(img, nil, x.Data); err != nil {
		t.Fatal(err)
	}
	logits, err := r.Model.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	return eval.Softmax(logits.Data)
}

// checkWholePhoto checks predict's answer for the crop tests' photo
// without a face: one answer on the whole 64x48 photo, saying so.
func checkWholePhoto(t *testing.T, e recognize.Prediction) {
	t.Helper()
	if len(e.Faces) != 1 || e.Faces[0].Box != [4]int{0, 0, 64, 48} || !strings.Contains(e.Note, "no face found") {
		t.Errorf("photo without a face: %+v", e)
	}
}

// predictGroup writes a group photo of two faces (Ann left, larger; Cid
// right) and asks predict, as JSON with the top 3, about it and the photo
// without a face. It returns the group photo, the faces drawn on it and
// the two predictions.
func predictGroup(t *testing.T, dir, run, noFace string) (string, []identifytest.Face, []recognize.Prediction) {
	t.Helper()
	group := filepath.Join(dir, "group.png")
	drawn := []identifytest.Face{{P: 0, X: 4, Y: 10, Size: 20, G: 30, B: 200}, {P: 2, X: 40, Y: 20, Size: 12, G: 90, B: 10}}
	if err := identifytest.WritePhoto(group, 64, 48, drawn...); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("predict", run, group, noFace, "--json", "--top", "3")
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	var p []recognize.Prediction
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p) != 2 {
		t.Fatalf("%v\n%s", err, out)
	}
	return group, drawn, p
}

// usageCase is train arguments that must fail as a usage error, with the
// message they must give.
type usageCase struct {
	name string
	args []string
	want string
}

// trainUsageErrors runs train on a small photo folder with each case's
// arguments added and checks the usage error. It returns the folder.
func trainUsageErrors(t *testing.T, cases []usageCase) string {
	t.Helper()
	photos := filepath.Join(t.TempDir(), "photos")
	if err := identifytest.Folder(photos, facePeople[:2], 3, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"train", photos, "--model", "vgg16", "--out", filepath.Join(t.TempDir(), "r")}, tc.args...)
			code, _, errOut := runCLI(args...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q, want %q", code, errOut, tc.want)
			}
		})
	}
	return photos
}

// cropEval is what the crop tests read of `eval --json`.
type cropEval struct {
	N        int     `json:"n"`
	Accuracy float64 `json:"accuracy"`
	FaceCrop *struct {
		Margin      float64  `json:"margin"`
		Aligned     bool     `json:"aligned"`
		ChipSize    int      `json:"chip_size"`
		NoFace      int      `json:"no_face"`
		NoFaceFiles []string `json:"no_face_files"`
	} `json:"face_crop"`
}

// runCropEval runs `eval run --json`, which must succeed without a warning,
// and returns its report and its stderr.
func runCropEval(t *testing.T, run string) (cropEval, string) {
	t.Helper()
	code, out, errOut := runCLI("eval", run, "--json")
	if code != exitOK || strings.Contains(errOut, "warning") {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var ev cropEval
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return ev, errOut
}
