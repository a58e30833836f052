package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/recognize/defaultmodel"
)

// TestMain keeps every test away from the user's copy of the default
// model (without a run, commands use the built-in model, and enroll
// writes its copy under a temporary folder) and from the user's
// descriptor cache, whose contents would change what the goldens' cache
// counts say.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "starid-default-run-")
	if err != nil {
		panic(err)
	}
	os.Setenv(defaultmodel.EnvDir, filepath.Join(dir, "default-run"))
	os.Setenv(identify.EnvCache, filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestServeDefaultModel: `starid serve` with no run serves the built-in
// model, and the page's model endpoint lists the 17 stars.
func TestServeDefaultModel(t *testing.T) {
	useMarkedFaces(t)
	base, opened, stop := startServeWith(t, nil)
	defer stop()
	if opened != "" {
		t.Errorf("opened run %q", opened)
	}
	resp, err := http.Get(base + "/api/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var model struct {
		Classes []string `json:"classes"`
		Kind    string   `json:"kind"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&model); err != nil {
		t.Fatal(err)
	}
	if len(model.Classes) != 17 || !slices.Contains(model.Classes, "Sandra Bullock") || model.Kind != "face" {
		t.Errorf("model %+v", model)
	}
}

// TestEnrollIntoDefaultModel: `enroll NAME PHOTO...` without a run makes
// the user's copy and says where; predict and eval --data without a run
// then use the copy and name the new person.
func TestEnrollIntoDefaultModel(t *testing.T) {
	useFakeFaces(t)
	dir := filepath.Join(t.TempDir(), "copy")
	t.Setenv(defaultmodel.EnvDir, dir)
	photos := filepath.Join(t.TempDir(), "photos", "Zoe Example")
	var paths []string
	for i := range 3 {
		p := filepath.Join(photos, string(rune('a'+i))+".png")
		if err := identifytest.WritePhoto(p, 40, 40, identifytest.Face{P: 4, X: 3, Y: 3, Size: 12, G: uint8(110 + 10*i), B: 128}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	code, out, errOut := runCLI(append([]string{"enroll", "Zoe Example"}, paths[:2]...)...)
	if code != exitOK || !strings.Contains(out, "now knows 18 people") || !strings.Contains(errOut, dir) {
		t.Fatalf("enroll: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI("predict", paths[2])
	if code != exitOK || !strings.Contains(out, "Zoe Example") || !strings.Contains(errOut, "your copy of the built-in model in "+dir) {
		t.Fatalf("predict: exit %d\n%s%s", code, out, errOut)
	}
	outDir := filepath.Join(t.TempDir(), "eval")
	code, out, errOut = runCLI("eval", "--data", filepath.Dir(photos), "--out", outDir)
	if code != exitOK || !strings.Contains(out, "accuracy 100.0%") {
		t.Fatalf("eval --data: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(outDir, "confusion.json")); err != nil {
		t.Error(err)
	}
}

// TestPredictStarWithoutRun is the first thing a new user tries:
// `starid predict photo.jpg` on a photo of one of the 17 stars, from the
// run's held-out split, names the star. It needs the tutorial's photos and
// the face models, and skips without them.
func TestPredictStarWithoutRun(t *testing.T) {
	root := os.Getenv("STARID_DEV_PHOTOS")
	if root == "" {
		root = filepath.Join("..", "..", "..", "shared", "data", "celebrity17")
	}
	if _, err := os.Stat(root); err != nil {
		t.Skipf("the tutorial's photos are not here (%v); set STARID_DEV_PHOTOS", err)
	}
	if _, err := openFaceFinder(faces.AutoDetector); err != nil {
		t.Skipf("face models not installed: %v", err)
	}
	ds, split := scanSplit(t, root, 0.8)
	_, test, err := split.Indices(ds)
	if err != nil {
		t.Fatal(err)
	}
	for _, star := range []string{"Tom Hanks", "Scarlett Johansson"} {
		i := slices.IndexFunc(test, func(i int) bool { return ds.Classes[ds.Samples[i].Class] == star })
		photo := ds.Samples[test[i]].Path
		code, out, errOut := runCLI("predict", photo, "--cache", t.TempDir())
		if code != exitOK || !strings.Contains(out, ": "+star+" ") || !strings.Contains(errOut, "built-in model") {
			t.Errorf("predict %s: exit %d\n%s%s", photo, code, out, errOut)
		}
	}
}
