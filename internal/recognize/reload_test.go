package recognize

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// faceRunFolder trains a face run on generated photos of Ann, Bob and Cid.
func faceRunFolder(t *testing.T) string {
	t.Helper()
	photos, run := filepath.Join(t.TempDir(), "photos"), filepath.Join(t.TempDir(), "run")
	if err := identifytest.Folder(photos, []string{"Ann", "Bob", "Cid"}, 6, 7); err != nil {
		t.Fatal(err)
	}
	cfg := identify.TrainConfig{Settings: runs.Settings{Data: photos, Out: run, Epochs: 30, Batch: 16, Optimizer: "adam", LR: 1e-2,
		Schedule: "none", TrainFrac: 0.8, Seed: 1, Crop: "none"}}
	if _, err := identify.Train(context.Background(), cfg, &identifytest.Fake{}, runs.Output{}); err != nil {
		t.Fatal(err)
	}
	return run
}

// nameOf is what r calls a face of fake person p.
func nameOf(t *testing.T, r Recognizer, p int) string {
	t.Helper()
	got, err := r.Name(context.Background(), nil, []faces.Face{{Descriptor: identifytest.Descriptor(p, 128, 128)}})
	if err != nil || len(got) != 1 {
		t.Fatalf("Name: %v %v", got, err)
	}
	return got[0].Name
}

// An enrollment is picked up by the next photo; a damaged model.json is
// not served, and the model before it stays in use.
func TestReloadingPicksUpEnrollments(t *testing.T) {
	run := faceRunFolder(t)
	var notes []error
	loads := 0
	opt := Options{OpenFinder: func() (Finder, error) { loads++; return &identifytest.Fake{}, nil }}
	r, err := OpenReloading(run, opt, func(err error) { notes = append(notes, err) })
	if err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, r, 3); got != "unknown" {
		t.Fatalf("before enrolling Dee: %q", got)
	}
	dir := t.TempDir()
	var shots []string
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 3 {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		if err := identifytest.WritePhoto(p, 64, 48, identifytest.RandomFace(rng, 3)); err != nil {
			t.Fatal(err)
		}
		shots = append(shots, p)
	}
	// Photos named while the enroll writes see one model or the other.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if got, err := r.Name(context.Background(), nil, []faces.Face{{Descriptor: identifytest.Descriptor(1, 128, 128)}}); err != nil || got[0].Name != "Bob" {
					t.Errorf("Bob during the enroll: %v %v", got, err)
					return
				}
			}
		})
	}
	if _, err := identify.Enroll(context.Background(), run, "Dee", shots, &identifytest.Fake{}, identify.EnrollOptions{}); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if got := nameOf(t, r, 3); got != "Dee" {
		t.Errorf("after enrolling Dee: %q", got)
	}
	if n := len(r.Info().Classes); n != 4 || len(notes) == 0 || notes[len(notes)-1] != nil {
		t.Errorf("after the enroll: %d classes, notes %v", n, notes)
	}

	// A damaged model.json (written whole, as every writer does).
	info := filepath.Join(run, runs.ModelInfoFile)
	good, _ := os.ReadFile(info)
	tmp := info + ".new"
	if err := os.WriteFile(tmp, []byte(`{"version": 1, "model": "face", "classes": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, info); err != nil {
		t.Fatal(err)
	}
	before := len(notes)
	for range 3 {
		if got := nameOf(t, r, 3); got != "Dee" {
			t.Errorf("with a damaged model.json: %q", got)
		}
	}
	if len(notes) != before+1 || notes[before] == nil {
		t.Errorf("the failed reopening was told %d times: %v", len(notes)-before, notes[before:])
	}
	// Mended: followed again.
	if err := os.WriteFile(tmp, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, info); err != nil {
		t.Fatal(err)
	}
	if err := identify.Remove(context.Background(), run, "Dee", identify.EnrollOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, r, 3); got != "unknown" || len(r.Info().Classes) != 3 {
		t.Errorf("after removing Dee: %q, %v", got, r.Info().Classes)
	}
	if loads != 1 {
		t.Errorf("the face nets were loaded %d times, want once for every reopening", loads)
	}
}
