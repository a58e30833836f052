package main

import (
	"context"
	"path/filepath"
	"testing"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/train"
)

func decodeForServe(t *testing.T, path string) *faces.Image {
	t.Helper()
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	return faces.FromImage(img)
}

func TestServeRecognizerVGG(t *testing.T) {
	photos, run := fixture(t)
	rec, err := openRunRecognizer(run)
	if err != nil {
		t.Fatal(err)
	}
	info := rec.Info()
	if len(info.Classes) != 3 || info.Kind == train.ModelFace {
		t.Errorf("info %+v", info)
	}
	img := decodeForServe(t, filepath.Join(photos, "red", "02.png"))
	got, err := rec.Recognize(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Box != [4]int{0, 0, img.W, img.H} || got[0].Name != "red" || len(got[0].Top) != 3 {
		t.Errorf("whole-photo answer %+v", got)
	}
}

func TestServeRecognizerFace(t *testing.T) {
	fake := useFakeFaces(t)
	old := openFaceFinder
	openFaceFinder = func() (faceFinder, error) { return fake, nil }
	t.Cleanup(func() { openFaceFinder = old })
	_, run := faceRun(t, facePeople)
	rec, err := openRunRecognizer(run)
	if err != nil {
		t.Fatal(err)
	}
	if info := rec.Info(); info.Kind != train.ModelFace || len(info.Classes) != len(facePeople) || info.Threshold <= 0 {
		t.Errorf("info %+v", info)
	}
	path := filepath.Join(t.TempDir(), "group.png")
	// Bob small on the left, a stranger (person 9) large on the right.
	if err := identifytest.WritePhoto(path, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 10, G: 90, B: 30},
		identifytest.Face{P: 9, X: 36, Y: 5, Size: 20, G: 10, B: 10}); err != nil {
		t.Fatal(err)
	}
	got, err := rec.Recognize(context.Background(), decodeForServe(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d faces, want 2", len(got))
	}
	if !got[0].Unknown || got[1].Name != "Bob" || got[1].Unknown || got[1].Box[2] != 10 {
		t.Errorf("answers %+v", got)
	}
}
