package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
	"starid/internal/serve"
)

func decodeForServe(t *testing.T, path string) *faces.Image {
	t.Helper()
	return faces.FromImage(decodeRGBA(t, path))
}

// recognizeImage is what the server does with an uploaded photo already
// decoded: rec's faces in img, failing the test on an error.
func recognizeImage(t *testing.T, rec serve.Recognizer, img *faces.Image) []serve.Face {
	t.Helper()
	got, err := rec.Recognize(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestServeRecognizerVGG(t *testing.T) {
	photos, run := fixture(t)
	rec, err := openRunRecognizer(run, faces.AutoDetector, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := rec.Info()
	if len(info.Classes) != 3 || info.Kind == runs.ModelFace {
		t.Errorf("info %+v", info)
	}
	img := decodeForServe(t, filepath.Join(photos, "red", "02.png"))
	got := recognizeImage(t, rec, img)
	if len(got) != 1 || got[0].Box != [4]int{0, 0, img.W, img.H} || got[0].Name != "red" || len(got[0].Top) != 3 {
		t.Errorf("whole-photo answer %+v", got)
	}
}

func TestServeRecognizerFace(t *testing.T) {
	fake := useFakeFaces(t)
	findWith(t, fake)
	_, run := faceRun(t, facePeople)
	rec, err := openRunRecognizer(run, faces.AutoDetector, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info := rec.Info(); info.Kind != runs.ModelFace || len(info.Classes) != len(facePeople) || info.Threshold <= 0 {
		t.Errorf("info %+v", info)
	}
	path := filepath.Join(t.TempDir(), "group.png")
	// Bob small on the left, a stranger (person 9) large on the right.
	if err := identifytest.WritePhoto(path, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 10, G: 90, B: 30},
		identifytest.Face{P: 9, X: 36, Y: 5, Size: 20, G: 10, B: 10}); err != nil {
		t.Fatal(err)
	}
	got := recognizeImage(t, rec, decodeForServe(t, path))
	if len(got) != 2 {
		t.Fatalf("%d faces, want 2", len(got))
	}
	if !got[0].Unknown || got[1].Name != "Bob" || got[1].Unknown || got[1].Box[2] != 10 {
		t.Errorf("answers %+v", got)
	}
}

// A VGG run trained on face crops is served face by face, with the same
// answers predict gives.
func TestServeRecognizerCropFace(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network for one epoch")
	}
	fake := useFakeFaces(t)
	findWith(t, fake)
	dir := t.TempDir()
	photos, run := filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	if err := identifytest.Folder(photos, facePeople[:3], 4, 3); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("train", photos, "--model", "vgg16-bn-dropout-light", "--crop", "face",
		"--size", "32", "--epochs", "1", "--batch", "4", "--out", run); code != exitOK {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	group := filepath.Join(dir, "group.png")
	if err := identifytest.WritePhoto(group, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 10, G: 90, B: 30},
		identifytest.Face{P: 2, X: 36, Y: 5, Size: 20, G: 10, B: 10}); err != nil {
		t.Fatal(err)
	}
	rec, err := openRunRecognizer(run, faces.AutoDetector, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := recognizeImage(t, rec, decodeForServe(t, group))
	code, out, errOut := runCLI("predict", run, group, "--json")
	if code != exitOK {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	var want predictJSON
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(want) != 1 || len(want[0].Faces) != 2 {
		t.Fatalf("serve %d faces, predict %+v", len(got), want)
	}
	for i, f := range got {
		w := want[0].Faces[i]
		if f.Name != w.Name || f.Confidence != w.Confidence || f.Box[0] != w.Box[0] || f.Box[2] != w.Box[2] {
			t.Errorf("face %d: serve %+v, predict %+v", i, f, w)
		}
	}
}

// TestServeFollowsEnroll: the recognizer serve opens for a run folder
// follows it, so a person enrolled (then removed) while it runs is named
// (then no longer) from the next photo on, with no restart.
func TestServeFollowsEnroll(t *testing.T) {
	fake := useFakeFaces(t)
	findWith(t, fake)
	_, run := faceRun(t, facePeople[:2])
	rec, err := openRunRecognizer(run, faces.AutoDetector, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	probe := decodeForServe(t, photoOf(t, dir, 3, 9))
	name := func() string {
		got, err := rec.Recognize(context.Background(), probe)
		if err != nil || len(got) != 1 {
			t.Fatalf("recognize: %v, %+v", err, got)
		}
		return got[0].Name
	}
	if got := name(); got == "Zoe" {
		t.Fatalf("named %q before the enroll", got)
	}
	if code, out, errOut := runCLI("enroll", run, "Zoe", photoOf(t, dir, 3, 1), photoOf(t, dir, 3, 2), photoOf(t, dir, 3, 3)); code != exitOK {
		t.Fatalf("enroll: exit %d: %s %s", code, out, errOut)
	}
	if got, classes := name(), rec.Info().Classes; got != "Zoe" || len(classes) != 3 {
		t.Errorf("after the enroll: named %q, classes %v", got, classes)
	}
	if code, out, errOut := runCLI("enroll", run, "--remove", "Zoe"); code != exitOK {
		t.Fatalf("remove: exit %d: %s %s", code, out, errOut)
	}
	if got := name(); got == "Zoe" {
		t.Errorf("named %q after the removal", got)
	}
}
