package identify

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// A face run made from one photo per person trains on every photo, tests
// none, says so, and names the people (issue 13: the split refused it).
func TestTrainOnePhotoPerPerson(t *testing.T) {
	photos := makeFolder(t, people, 1)
	run := filepath.Join(t.TempDir(), "run")
	var stderr bytes.Buffer
	res, err := Train(context.Background(), trainConfig(photos, run, nil), &identifytest.Fake{}, runs.Output{Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if res.Train != len(people) || res.Test != 0 {
		t.Errorf("%d training and %d test photos, want %d and 0", res.Train, res.Test, len(people))
	}
	for _, want := range []string{"4 of 4 classes have a single photo: trained on, not tested (Ann, Bob, Cid, Dee)", "no test photos, so no test accuracy"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("train said:\n%s\nwant %q", stderr.String(), want)
		}
	}
	after, err := OpenFaceRun(run)
	must(t, err)
	for p, who := range people {
		if a := after.Model.Identify(identifytest.Descriptor(p, 128, 128), after.Rule(), 1); a.Name != who {
			t.Errorf("person %d is %q, want %q", p, a.Name, who)
		}
	}
	// One more person with one photo, and the classes with more photos
	// are tested as before.
	must(t, errOnly(Enroll(context.Background(), run, "Eve", enrollShots(t, 4, 1), &identifytest.Fake{}, EnrollOptions{PipelineVersion: "test-1"})))

	mixed := makeFolder(t, people[:2], 5)
	must(t, identifytest.Folder(mixed, []string{"Cid"}, 1, 3))
	ds, err := data.Scan(mixed, data.ScanOptions{})
	must(t, err)
	sp, err := data.StratifiedSplit(ds, 0.3, 1)
	must(t, err)
	if strings.Join(sp.Train, " ") == "" || !strings.Contains(strings.Join(sp.Train, " "), "Cid/") || strings.Contains(strings.Join(sp.Test, " "), "Cid/") {
		t.Errorf("one-photo class with --train-frac 0.3: train %v test %v, want Cid's photo in train", sp.Train, sp.Test)
	}
}
