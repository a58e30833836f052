package main

import (
	"context"
	"fmt"
	"image"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/eval/runeval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/recognize"
	"starid/internal/train"
)

// markedFake is the fake describer with landmarks, as the real pipeline
// gives them: the eyes in the upper part of the square "face", the right
// one a little lower (so the alignment turns the face), the rest on the
// mouth.
type markedFake struct{ identifytest.Fake }

func (m *markedFake) Faces(img *faces.Image) ([]faces.Face, error) {
	found, err := m.Fake.Faces(img)
	for i := range found {
		found[i].Landmarks = squareLandmarks(found[i].Box)
	}
	return found, err
}

func squareLandmarks(b faces.Box) []faces.Point {
	lm := make([]faces.Point, faces.NumLandmarks)
	for i := range lm {
		switch {
		case i >= 36 && i < 42:
			lm[i] = faces.Point{X: b.X + 0.3*b.W, Y: b.Y + 0.35*b.H}
		case i >= 42 && i < 48:
			lm[i] = faces.Point{X: b.X + 0.7*b.W, Y: b.Y + 0.4*b.H}
		default:
			lm[i] = faces.Point{X: b.X + 0.5*b.W, Y: b.Y + 0.75*b.H}
		}
	}
	return lm
}

// useMarkedFaces is useFakeFaces with landmarks, for the commands and
// for serve.
func useMarkedFaces(t *testing.T) *markedFake {
	t.Helper()
	fake := &markedFake{}
	substitute(t, &newDescriber, func(faces.DetectorChoice) identify.Describer { return fake })
	findWith(t, fake)
	t.Setenv(identify.EnvCache, filepath.Join(t.TempDir(), "cache"))
	return fake
}

// TestCropAligned trains a VGG run on aligned chips through the command
// line, over a cache written before landmarks were cached (so every photo
// with a face is described again), then checks that eval feeds the network
// the very tensors training's warp makes (and repeats its accuracy), that
// predict and serve name each face of a group photo on the chip aligned on
// its own landmarks, and a photo without a face whole.
func TestCropAligned(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network for two epochs")
	}
	fake := useMarkedFaces(t)
	dir, photos, run, noFace := cropFixture(t)
	ds, all := scanAll(t, photos)
	paths := make([]string, len(ds.Samples))
	for i, s := range ds.Samples {
		paths[i] = s.Path
	}
	// Entries as a face run or a crop=face run wrote them: no landmarks.
	if _, _, err := identify.Describe(context.Background(), &identifytest.Fake{}, paths, nil,
		identify.DescribeOptions{Cache: descriptorCache("", faces.AutoDetector, io.Discard)}); err != nil {
		t.Fatal(err)
	}

	r := trainCropRun(t, photos, run, []string{"--crop", "aligned"},
		"faces: 13 photos, 12 computed, 1 from the cache (12 described again: their cache entries had no landmarks)",
		"aligned faces (padding 0.5, 64x64 chips): a face in 12 of 13 photos; 1 without one",
		noFace+": no face found, the whole photo is used")
	if i := r.Info; i.Crop != "aligned" || i.CropMargin != facecrop.DefaultAlignPadding || i.ChipSize != 64 || i.PipelineVersion != faces.PipelineVersion {
		t.Fatalf("model.json: crop %q padding %v chip %d pipeline %q", i.Crop, i.CropMargin, i.ChipSize, i.PipelineVersion)
	}

	calls := fake.Calls()
	ev, errOut := runCropEval(t, run)
	if ev.N == 0 || ev.Accuracy != r.Info.BestTestAcc || ev.FaceCrop == nil || !ev.FaceCrop.Aligned || ev.FaceCrop.ChipSize != 64 ||
		ev.FaceCrop.Margin != 0.5 {
		t.Errorf("eval: n %d accuracy %v (training's best %v), face_crop %+v", ev.N, ev.Accuracy, r.Info.BestTestAcc, ev.FaceCrop)
	}
	if fake.Calls() != calls || !strings.Contains(errOut, fmt.Sprintf("0 computed, %d from the cache", ev.N)) {
		t.Errorf("eval described again: %d describer calls, stderr:\n%s", fake.Calls()-calls, errOut)
	}

	// Eval's loader against training's: train.FaceWarper over the faces
	// the describer finds, cut by the chip maker train was given, at the
	// padding and side in model.json. Equal to the bit, and not the
	// crop=face crop.
	warp, res, err := runeval.AlignedChips(r.Info, ds, all, runeval.Options{FindFaces: describing("", 1, faces.AutoDetector, io.Discard).CropFinder()})
	if err != nil {
		t.Fatal(err)
	}
	checkOneNoFace(t, res, noFace)
	found := map[int]train.FaceFind{}
	for _, i := range all {
		img := decodeRGBA(t, ds.Samples[i].Path)
		found[i] = train.FaceFind{}
		if fs, _ := fake.Faces(faces.FromImage(img)); len(fs) > 0 {
			found[i] = train.FaceFind{Box: fs[0].Box, Found: true, Landmarks: fs[0].Landmarks}
		}
	}
	trainWarp := train.FaceWarper(found, func(img *image.RGBA, lm []faces.Point) (*image.RGBA, error) {
		return recognize.AlignedChip(img, lm, facecrop.DefaultAlignPadding, facecrop.ChipSide(32))
	})
	tf := recognize.Transform(r.Info)
	batches := func(lo data.LoaderOptions) []float32 {
		var x []float32
		for b, err := range data.NewLoader(ds, all, tf, len(all), lo).Epoch(false, nil) {
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, b.X.Data...)
		}
		return x
	}
	evalX, trainX := batches(data.LoaderOptions{Warp: warp}), batches(data.LoaderOptions{Warp: trainWarp})
	if len(evalX) != len(all)*3*32*32 || !slices.Equal(evalX, trainX) {
		t.Error("eval's aligned chips differ from training's")
	}
	cropF, _, err := runeval.FaceCrops(r.Info, ds, all, runeval.Options{FindFaces: describing("", 1, faces.AutoDetector, io.Discard).CropFinder()})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(evalX, batches(data.LoaderOptions{Crop: cropF})) {
		t.Error("aligned chips are the same as face-box crops")
	}

	group, drawn, p := predictGroup(t, dir, run, noFace)
	if len(p[0].Faces) != 2 {
		t.Fatalf("group photo: %+v", p[0])
	}
	img := decodeRGBA(t, group)
	for i, f := range drawn {
		box := faces.Box{X: float64(f.X), Y: float64(f.Y), W: float64(f.Size), H: float64(f.Size)}
		chip, err := recognize.AlignedChip(img, squareLandmarks(box), 0.5, 64)
		if err != nil {
			t.Fatal(err)
		}
		want := runProbs(t, r, chip)
		got := p[0].Faces[i]
		if got.Box != [4]int{f.X, f.Y, f.Size, f.Size} {
			t.Errorf("face %d: box %v", i+1, got.Box)
		}
		for _, c := range got.Top {
			// The same chip through the same network: equal to the bit.
			if k := slices.Index(r.Info.Classes, c.Name); c.Probability != want[k] {
				t.Errorf("face %d: %s %.6f, on its chip %.6f", i+1, c.Name, c.Probability, want[k])
			}
		}
	}
	checkWholePhoto(t, p[1])

	// serve answers as predict does.
	rec, err := openRunRecognizer(run, faces.AutoDetector, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := recognizeImage(t, rec, decodeForServe(t, group))
	if len(served) != 2 {
		t.Fatalf("serve: %d faces", len(served))
	}
	for i, f := range served {
		if w := p[0].Faces[i]; f.Name != w.Name || f.Confidence != w.Confidence || f.Box != w.Box {
			t.Errorf("face %d: serve %+v, predict %+v", i+1, f, w)
		}
	}
}

// TestCropAlignedSettings: the padding's range, and the face model's
// refusal of the VGG crops.
func TestCropAlignedSettings(t *testing.T) {
	trainUsageErrors(t, []usageCase{
		{"padding too large", []string{"--crop", "aligned", "--crop-margin", "5"}, "--crop-margin 5: must be between 0 and 2"},
		{"negative padding", []string{"--crop", "aligned", "--crop-margin", "-0.1"}, "--crop-margin -0.1: must be between 0 and 2"},
		{"face model", []string{"--model", "face", "--crop", "aligned"},
			"--crop aligned applies to the VGG models: --model face always finds and aligns the faces itself"},
		{"unknown crop", []string{"--crop", "warped"}, `--crop "warped": want face, aligned or none`},
	})
}

// TestAlignedChipRounds: the chip comes back as 8-bit RGB rounded, not
// truncated, from the float warp, and fails without 68 landmarks.
func TestAlignedChipRounds(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	box := faces.Box{X: 8, Y: 6, W: 24, H: 26}
	lm := squareLandmarks(box)
	chip, err := recognize.AlignedChip(img, lm, 0.5, 24)
	if err != nil {
		t.Fatal(err)
	}
	pts := make([]faces.Point, len(lm))
	for i, p := range lm {
		pts[i] = faces.Point{X: p.X, Y: p.Y}
	}
	want, err := faces.AlignedChip(faces.FromImage(img), pts, faces.ChipTemplate(24, 0.5), nil)
	if err != nil {
		t.Fatal(err)
	}
	if chip.Rect != image.Rect(0, 0, 24, 24) {
		t.Fatalf("chip %v", chip.Rect)
	}
	for i := range 24 * 24 {
		for c := range 3 {
			v := want.Pix[3*i+c]
			if got := float32(chip.Pix[4*i+c]); got < v-0.5 || got > v+0.5 {
				t.Fatalf("pixel %d channel %d: %v, float chip %v", i, c, got, v)
			}
		}
		if chip.Pix[4*i+3] != 255 {
			t.Fatalf("pixel %d: alpha %d", i, chip.Pix[4*i+3])
		}
	}
	if _, err := recognize.AlignedChip(img, lm[:10], 0.5, 24); err == nil {
		t.Error("10 landmarks accepted")
	}
}
