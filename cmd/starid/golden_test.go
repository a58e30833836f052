package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
	"starid/internal/testkit"
)

// The golden tests pin what the commands print today (predict, eval and
// faces, their exit codes and their error lines for bad inputs) so that
// moving the recognition code between packages cannot change an answer
// unnoticed. Run with -update to rewrite testdata/golden after a change
// that is meant to alter the output, and read the diff.
var updateGolden = flag.Bool("update", false, "rewrite cmd/starid/testdata/golden from today's output")

var (
	// Temporary folders differ per run: keep their place, drop the random part.
	tmpPattern = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/TestGolden[^/]*`)
	// Timings: "ms" fields of JSON and "12ms"/"1.5s" in text.
	msPattern = regexp.MustCompile(`("\w*ms\w*"): ?[0-9.e+-]+`)
)

func normaliseGolden(s string) string {
	s = tmpPattern.ReplaceAllString(s, "$$TMP")
	s = msPattern.ReplaceAllString(s, `$1: 0`)
	// Floats are compared to 6 decimals.
	return testkit.RoundFloats(s, 6)
}

// golden runs the command and compares its transcript (arguments, exit
// code, stdout, stderr) with testdata/golden/NAME.txt.
func golden(t *testing.T, name string, args ...string) {
	t.Helper()
	code, out, errOut := runCLI(args...)
	got := normaliseGolden(fmt.Sprintf("$ starid %s\nexit %d\n--- stdout\n%s--- stderr\n%s",
		strings.Join(args, " "), code, out, errOut))
	path := filepath.Join("testdata", "golden", name+".txt")
	testkit.Golden(t, path, got, *updateGolden, "go test -tags nodynamic ./cmd/starid -run TestGolden -update")
}

// cropRun is the colour run of makeRun, made to cut faces the way crop
// mode says before the network sees them.
func cropRun(t *testing.T, run, photos, crop string) {
	t.Helper()
	makeRun(t, run, photos, 10, 0)
	path := filepath.Join(run, runs.ModelInfoFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var info runs.ModelInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	info.Crop, info.CropMargin, info.PipelineVersion = facecrop.Mode(crop), facecrop.DefaultMargin, faces.PipelineVersion
	if b, err = json.Marshal(info); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goldenPhotos writes the probe photos: a group (a small face of person 1
// on the left, a large stranger on the right), a photo without a face, a
// file that is not an image, and a folder in place of a photo.
func goldenPhotos(t *testing.T, dir string) (group, empty, broken, folder string) {
	t.Helper()
	group, folder = filepath.Join(dir, "group.png"), filepath.Join(dir, "folder.png")
	if err := identifytest.WritePhoto(group, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 10, G: 90, B: 30},
		identifytest.Face{P: 9, X: 36, Y: 5, Size: 20, G: 10, B: 10}); err != nil {
		t.Fatal(err)
	}
	empty, broken = faultyPhotos(t, dir)
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	return group, empty, broken, folder
}

// faultyPhotos writes into dir a photo without a face (empty.png) and a
// file that claims to be a JPEG but is not one (broken.jpg).
func faultyPhotos(t *testing.T, dir string) (empty, broken string) {
	t.Helper()
	empty, broken = filepath.Join(dir, "empty.png"), filepath.Join(dir, "broken.jpg")
	if err := identifytest.WritePhoto(empty, 64, 48); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("\xff\xd8\xff\xe0 not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	return empty, broken
}

func TestGoldenVGG(t *testing.T) {
	useMarkedFaces(t)
	photos, run := fixture(t)
	group, empty, broken, folder := goldenPhotos(t, t.TempDir())
	red, green := filepath.Join(photos, "red", "02.png"), filepath.Join(photos, "blue", "03.png")
	missing := filepath.Join(photos, "red", "nope.png")
	golden(t, "predict-vgg-json", "predict", run, red, green, group, "--json")
	golden(t, "predict-vgg-text", "predict", run, red, green, "--top", "2")
	golden(t, "predict-vgg-threshold", "predict", run, red, "--threshold", "0.999", "--json")
	golden(t, "predict-vgg-bad", "predict", run, red, broken, missing, folder, empty, "--json")
	golden(t, "predict-vgg-missing", "predict", run, missing)
	// Not a run: the built-in model names the folder's photos. Its own
	// cache, so that eval-crop-face below still describes its photos.
	golden(t, "predict-not-a-run", "predict", photos, red, "--cache", filepath.Join(filepath.Dir(photos), "cache"))
	golden(t, "predict-no-run", "predict", filepath.Join(photos, "norun"), red)
	golden(t, "eval-vgg-split", "eval", run, "--json")
	golden(t, "eval-vgg-folder", "eval", run, "--data", photos, "--json")
	golden(t, "eval-vgg-text", "eval", run, "--data", photos)
	golden(t, "eval-vgg-csv", "eval", run, "--data", photos, "--csv")
	golden(t, "predict-vgg-csv", "predict", run, red, green, group, broken, "--csv", "--top", "2")
	// A folder is searched at any depth; files that are not photos are
	// skipped, photos that cannot be read are listed and fail the run.
	probes := filepath.Dir(group)
	if err := os.WriteFile(filepath.Join(probes, "notes.txt"), []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	golden(t, "predict-vgg-folder", "predict", run, probes, "--top", "1")
	golden(t, "eval-not-a-run", "eval", photos, "--json")
	golden(t, "eval-bad-data", "eval", run, "--data", missing, "--json")

	for _, crop := range []string{"face", "aligned"} {
		cr := filepath.Join(t.TempDir(), "run-"+crop)
		cropRun(t, cr, photos, crop)
		golden(t, "predict-crop-"+crop, "predict", cr, group, empty, broken, "--json", "--top", "2")
		golden(t, "eval-crop-"+crop, "eval", cr, "--json")
	}
}

func TestGoldenFaceRun(t *testing.T) {
	useFakeFaces(t)
	photos, run := faceRun(t, facePeople[:3])
	group, empty, broken, folder := goldenPhotos(t, t.TempDir())
	golden(t, "predict-face-json", "predict", run, group, empty, broken, folder, "--json", "--top", "3")
	golden(t, "predict-face-text", "predict", run, group, empty)
	golden(t, "predict-face-csv", "predict", run, group, empty, broken, "--csv")
	golden(t, "predict-face-threshold", "predict", run, group, "--json", "--threshold", "10")
	golden(t, "eval-face-split", "eval", run, "--json")
	golden(t, "eval-face-folder", "eval", run, "--data", photos, "--json")
}

// TestGoldenIndex pins index's summary, text and JSON, for a run with a
// photo that cannot be described and a link that leads nowhere (exit 2),
// and for a rerun that finds everything indexed.
func TestGoldenIndex(t *testing.T) {
	useFakeLibrary(t)
	dir := t.TempDir()
	photos, db := filepath.Join(dir, "photos"), filepath.Join(dir, "lib.db")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob"}, 2, 5); err != nil {
		t.Fatal(err)
	}
	faultyPhotos(t, photos)
	if err := os.Symlink(filepath.Join(dir, "gone.png"), filepath.Join(photos, "link.png")); err != nil {
		t.Fatal(err)
	}
	golden(t, "index-json", "index", photos, "--db", db, "--json", "--workers", "1")
	golden(t, "index-text", "index", photos, "--db", db)
	for _, f := range []string{"broken.jpg", "link.png"} {
		if err := os.Remove(filepath.Join(photos, f)); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "index-clean", "index", photos, "--db", db)
}

func TestGoldenFaces(t *testing.T) {
	withFakeFinder(t)
	group, empty, broken, folder := goldenPhotos(t, t.TempDir())
	golden(t, "faces-json", "faces", group, empty, broken, folder, "--json")
	golden(t, "faces-text", "faces", group, empty)
	// --detector: the same faces through the fake (which has no detectors),
	// the flag's help, and a value that is not a detector.
	golden(t, "faces-detector-tiny", "faces", group, "--detector", "tiny")
	golden(t, "help-faces", "help", "faces")
	golden(t, "usage-bad-detector", "faces", group, "--detector", "yolo")
	// The conventions of the command line itself: help on stdout, one-line
	// errors with a pointer to the help.
	golden(t, "help-predict", "help", "predict")
	golden(t, "usage-bad-flag", "predict", group, "--bogus")
	golden(t, "usage-unknown-command", "predcit", group)
}
