package main

import (
	"encoding/json"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/library"
)

// detectorSeen makes the face commands find faces with a fake and records
// the detector each load asked for.
func detectorSeen(t *testing.T) *[]faces.DetectorChoice {
	t.Helper()
	var got []faces.DetectorChoice
	f := &fakeFinder{}
	substitute(t, &openFaceFinder, func(d faces.DetectorChoice) (faceFinder, error) {
		got = append(got, d)
		return f, nil
	})
	return &got
}

// TestDetectorFlagReachesPipeline: faces and bench --faces load the
// pipeline with the --detector given, the default when none is, and a
// value that is not a detector is a usage error naming the choices.
func TestDetectorFlagReachesPipeline(t *testing.T) {
	got := detectorSeen(t)
	photo := filepath.Join(t.TempDir(), "p.png")
	writePNG(t, photo, 40, 16, color.RGBA{90, 90, 90, 255}, 1)
	for _, args := range [][]string{{"faces", photo}, {"bench", "--faces", photo, "--steps", "1", "--warmup", "0"}} {
		for _, d := range faces.DetectorChoices {
			*got = nil
			cli(t, append(args, "--detector", string(d))...)
			if len(*got) != 1 || (*got)[0] != d {
				t.Errorf("%s --detector %s: the pipeline was loaded with %q", args[0], d, *got)
			}
		}
		*got = nil
		cli(t, args...)
		if len(*got) != 1 || (*got)[0].SSDUse() != faces.DefaultSSDUse {
			t.Errorf("%s without --detector: loaded with %q, want the default", args[0], *got)
		}
		if args[0] == "bench" {
			// The timings name the detector they are of.
			if out := cli(t, append(args, "--detector", "tiny", "--json")...); !strings.Contains(out, faces.TinyDetector.Version()) {
				t.Errorf("bench --faces --detector tiny --json: %s", out)
			}
		}
		code, _, errOut := runCLI(append(args, "--detector", "yolo")...)
		if code != exitUsage || !strings.Contains(errOut, `"yolo"`) || !strings.Contains(errOut, "auto, tiny or ssd") {
			t.Errorf("%s --detector yolo: exit %d: %s", args[0], code, errOut)
		}
	}
}

// TestDetectorFlagServe: serve --db finds the faces of uploads with the
// --detector given.
func TestDetectorFlagServe(t *testing.T) {
	got := detectorSeen(t)
	dir := t.TempDir()
	_, _, stop := startServe(t, "--db", filepath.Join(dir, "lib.db"), "--uploads", filepath.Join(dir, "up"), "--detector", "ssd")
	if r := stop(); r.code != exitOK {
		t.Fatalf("serve: exit %d: %s", r.code, r.stderr)
	}
	if len(*got) == 0 || (*got)[0] != faces.SSDDetector {
		t.Errorf("serve --detector ssd: the pipeline was loaded with %q", *got)
	}
}

// TestDetectorFlagPredictCache: predict describes with the --detector
// given, and descriptors cached with one detector do not answer for
// another (the faces found differ), while a second run with the same one
// is answered from the cache.
func TestDetectorFlagPredictCache(t *testing.T) {
	fake := &identifytest.Fake{}
	var got []faces.DetectorChoice
	substitute(t, &newDescriber, func(d faces.DetectorChoice) identify.Describer {
		got = append(got, d)
		return fake
	})
	t.Setenv(identify.EnvCache, filepath.Join(t.TempDir(), "train-cache"))
	_, run := faceRun(t, facePeople[:2])
	photo := filepath.Join(t.TempDir(), "p.png")
	if err := identifytest.WritePhoto(photo, 64, 48, identifytest.Face{P: 1, X: 8, Y: 8, Size: 24}); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	for i, step := range []struct {
		detector string
		describe bool // the fake is called: the cache has no answer
	}{{"tiny", true}, {"tiny", false}, {"auto", true}, {"ssd", true}, {"auto", false}} {
		calls := fake.Calls()
		cli(t, "predict", run, photo, "--cache", cache, "--detector", step.detector, "--json")
		if got[len(got)-1] != faces.DetectorChoice(step.detector) {
			t.Errorf("step %d: described with %q, want %s", i, got[len(got)-1], step.detector)
		}
		if described := fake.Calls() > calls; described != step.describe {
			t.Errorf("step %d (--detector %s): photo described %v, want %v", i, step.detector, described, step.describe)
		}
	}
}

// TestDetectorFlagIndex: a library indexed with one detector and then
// another describes every photo again (the library's pipeline version
// names the detector), and a third run with the same one changes nothing.
func TestDetectorFlagIndex(t *testing.T) {
	fake := useFakeLibrary(t)
	dir := t.TempDir()
	photos, db := filepath.Join(dir, "photos"), filepath.Join(dir, "lib.db")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob"}, 3, 4); err != nil {
		t.Fatal(err)
	}
	var res struct{ Changed, Described, Unchanged int }
	for i, step := range []struct {
		detector                      string
		changed, described, unchanged int
	}{{"auto", 0, 6, 0}, {"tiny", 6, 6, 0}, {"tiny", 0, 0, 6}, {"", 6, 6, 0}, {"ssd", 6, 6, 0}} {
		args := []string{"index", photos, "--db", db, "--json"}
		if step.detector != "" {
			args = append(args, "--detector", step.detector)
		}
		calls := fake.Calls()
		if err := json.Unmarshal([]byte(cli(t, args...)), &res); err != nil {
			t.Fatal(err)
		}
		if res.Changed != step.changed || res.Described != step.described || res.Unchanged != step.unchanged ||
			fake.Calls()-calls != step.described {
			t.Errorf("step %d (--detector %q): %+v, %d described by the pipeline; want changed %d, described %d, unchanged %d",
				i, step.detector, res, fake.Calls()-calls, step.changed, step.described, step.unchanged)
		}
	}
}

// bench --faces on a folder with a broken photo times the others and
// lists the broken one (exit 0); with nothing timed it fails naming the
// folder (exit 2, as for other bad input).
func TestBenchFacesSkipsBrokenPhotos(t *testing.T) {
	findWith(t, &fakeFinder{})
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "a.png"), 40, 16, color.RGBA{90, 90, 90, 255}, 1)
	bad := filepath.Join(dir, "b.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := cli(t, "bench", "--faces", dir, "--steps", "1", "--warmup", "0")
	if !strings.Contains(out, "skipped "+bad+": not an image") || !strings.Contains(out, "1 photos timed, 1 skipped") {
		t.Errorf("bench --faces with a broken photo:\n%s", out)
	}
	if err := os.Remove(filepath.Join(dir, "a.png")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("bench", "--faces", dir, "--steps", "1", "--warmup", "0")
	if code != exitInput || !strings.HasPrefix(errOut, "starid bench: "+dir+": no photo could be timed") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("bench --faces with nothing to time: exit %d: %s", code, errOut)
	}
}

// verify and search --like describe photos too, so they take --detector
// and hand it to the describer (the substitute stops the command there).
func TestDetectorFlagReachesLibraryDescriber(t *testing.T) {
	var got []faces.DetectorChoice
	substitute(t, &newLibraryDescriber, func(_ string, _ bool, d faces.DetectorChoice) (library.Describer, string, error) {
		got = append(got, d)
		return nil, "", errors.New("described enough")
	})
	dir := t.TempDir()
	a, b, db := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png"), filepath.Join(dir, "lib.db")
	for _, args := range [][]string{{"verify", a, b}, {"search", "--like", a, "--db", db}} {
		for _, d := range faces.DetectorChoices {
			got = nil
			code, _, errOut := runCLI(append(args, "--detector", string(d))...)
			if code != exitInput || !strings.Contains(errOut, "described enough") || len(got) != 1 || got[0] != d {
				t.Errorf("%s --detector %s: exit %d, %q; the describer was made with %q", args[0], d, code, errOut, got)
			}
		}
		got = nil
		runCLI(args...)
		if len(got) != 1 || got[0].SSDUse() != faces.DefaultSSDUse {
			t.Errorf("%s without --detector: made with %q, want the default", args[0], got)
		}
		if code, _, errOut := runCLI(append(args, "--detector", "yolo")...); code != exitUsage || !strings.Contains(errOut, "auto, tiny or ssd") {
			t.Errorf("%s --detector yolo: exit %d: %s", args[0], code, errOut)
		}
	}
}
