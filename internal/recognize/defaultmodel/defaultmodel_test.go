package defaultmodel

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// TestEmbedded checks what the binary carries: the 17 stars for this
// starid's face pipeline, a calibrated rule, and per-class summaries in
// place of any descriptor of a photo, in a few tens of kilobytes.
func TestEmbedded(t *testing.T) {
	run, err := OpenEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	m := run.Model
	if len(m.Classes) != 17 || !slices.Contains(m.Classes, "Tom Hanks") || !slices.Contains(m.Classes, "Scarlett Johansson") {
		t.Errorf("classes %v", m.Classes)
	}
	if err := run.CheckPipeline(faces.PipelineVersion); err != nil {
		t.Errorf("%v (run make default-model)", err)
	}
	if len(m.Train) != 0 || m.Summary == nil {
		t.Fatalf("%d training descriptors, summary %v: the built-in model must keep only summaries", len(m.Train), m.Summary != nil)
	}
	for c, n := range m.Summary.Count {
		if n < 10 {
			t.Errorf("%s: summary of %d descriptors", m.Classes[c], n)
		}
	}
	if r := run.Rule(); !(r.MaxDistance > 0.3 && r.MaxDistance < 0.8) {
		t.Errorf("rule %+v: not calibrated", r)
	}
	if run.Info.Data != "" || run.Info.Created != "" || run.Face.NoFace != nil {
		t.Errorf("model.json names the machine that made it: data %q created %q", run.Info.Data, run.Info.Created)
	}
	size := 0
	for _, f := range []string{runs.ModelInfoFile, runs.BestFile} {
		b, err := files.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		size += len(b)
	}
	if size > 64<<10 {
		t.Errorf("embedded model is %d bytes", size)
	}
}

// TestUserDir follows the override and the XDG rule.
func TestUserDir(t *testing.T) {
	t.Setenv(EnvDir, "/x/run")
	if d, _ := UserDir(); d != "/x/run" {
		t.Errorf("with %s: %q", EnvDir, d)
	}
	t.Setenv(EnvDir, "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if d, _ := UserDir(); d != "/data/starid/default-run" {
		t.Errorf("with XDG_DATA_HOME: %q", d)
	}
	t.Setenv("XDG_DATA_HOME", "relative")
	t.Setenv("HOME", "/home/u")
	if d, _ := UserDir(); d != "/home/u/.local/share/starid/default-run" {
		t.Errorf("relative XDG_DATA_HOME: %q", d)
	}
}

// fakePhotos writes n photos of fake person p.
func fakePhotos(t *testing.T, dir string, p, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		path := filepath.Join(dir, "p"+string(rune('a'+p))+string(rune('0'+i))+".png")
		if err := identifytest.WritePhoto(path, 40, 40, identifytest.Face{P: p, X: 2, Y: 2, Size: 14, G: uint8(100 + 20*i), B: 128}); err != nil {
			t.Fatal(err)
		}
		out = append(out, path)
	}
	return out
}

// TestEnrollMakesUserCopy enrolls into the default model: the first
// enroll makes the user's copy (the embedded model is untouched), which
// Open then prefers; the copy keeps the summaries plus only the enrolled
// photos' descriptors, names the new person, and still names each star
// at its own centroid after the head was refitted from the summaries.
func TestEnrollMakesUserCopy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share", "default-run")
	t.Setenv(EnvDir, dir)
	if _, src, err := Open(); err != nil || src.UserCopy {
		t.Fatalf("before enroll: %v, %+v", err, src)
	}
	photos := fakePhotos(t, t.TempDir(), 3, 3)
	opt := identify.EnrollOptions{}
	var said strings.Builder
	res, err := Enroll(context.Background(), "", "New Person", photos, &identifytest.Fake{}, opt, &said)
	if err != nil {
		t.Fatal(err)
	}
	if !res.New || res.Classes != 18 || !strings.Contains(said.String(), "no run given: changed your copy") || !strings.Contains(said.String(), dir) {
		t.Fatalf("result %+v, said %q", res, said.String())
	}
	run, src, err := Open()
	if err != nil || !src.UserCopy {
		t.Fatalf("after enroll: %v, %+v", err, src)
	}
	m := run.Model
	if len(m.Train) != 3 || m.Summary == nil || len(m.Summary.Count) != 18 || m.Summary.Count[17] != 0 {
		t.Fatalf("copy keeps %d descriptors and summary %v", len(m.Train), m.Summary.Count)
	}
	rule := run.Rule()
	if a := m.Identify(identifytest.Descriptor(3, 110, 128), rule, 1); a.Name != "New Person" {
		t.Errorf("an enrolled face is named %q", a.Name)
	}
	emb, _ := OpenEmbedded()
	for c, name := range emb.Model.Classes {
		if a := m.Identify(emb.Model.Centroids[c], rule, 1); a.Name != name {
			t.Errorf("%s's centroid is named %q after the refit", name, a.Name)
		}
	}
	if len(emb.Model.Classes) != 17 {
		t.Errorf("the embedded model changed: %d classes", len(emb.Model.Classes))
	}
	// A second enroll goes into the copy.
	res, err = Enroll(context.Background(), "", "Other Person", fakePhotos(t, t.TempDir(), 5, 2), &identifytest.Fake{}, opt, io.Discard)
	if err != nil || res.Classes != 19 {
		t.Fatalf("second enroll: %v, %+v", err, res)
	}
	removeFromCopy(t, emb)
}

// removeFromCopy removes a star of the built-in model from the user's copy:
// the head is refitted from the other stars' summaries and the enrolled
// people's descriptors, every remaining star's centroid is still named
// right, and the counts --list shows keep the summarized photos.
func removeFromCopy(t *testing.T, emb *identify.FaceRun) {
	t.Helper()
	if err := Remove(context.Background(), "", "Tom Hanks", identify.EnrollOptions{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := Rename("", "Other Person", "Someone Else", identify.EnrollOptions{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	run, _, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if m := run.Model; len(m.Classes) != 18 || slices.Contains(m.Classes, "Tom Hanks") || m.Summary == nil || len(m.Summary.Count) != 18 ||
		!slices.Contains(m.Classes, "Someone Else") {
		t.Fatalf("after remove and rename: classes %v", m.Classes)
	}
	people, err := People("", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	embPeople := emb.People()
	for _, p := range people {
		if i := slices.IndexFunc(embPeople, func(q identify.Person) bool { return q.Name == p.Name }); i >= 0 && p.Photos != embPeople[i].Photos {
			t.Errorf("%s: %d photos after the removal, %d before", p.Name, p.Photos, embPeople[i].Photos)
		}
	}
	rule := run.Rule()
	for c, name := range emb.Model.Classes {
		if name == "Tom Hanks" {
			continue
		}
		if a := run.Model.Identify(emb.Model.Centroids[c], rule, 1); a.Name != name {
			t.Errorf("%s's centroid is named %q after the removal", name, a.Name)
		}
	}
}

// TestFailedFirstEnrollLeavesNoCopy: a photo without a face fails the
// enroll, and no half-made copy is left behind.
func TestFailedFirstEnrollLeavesNoCopy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default-run")
	t.Setenv(EnvDir, dir)
	blank := filepath.Join(t.TempDir(), "blank.png")
	if err := identifytest.WritePhoto(blank, 20, 20); err != nil {
		t.Fatal(err)
	}
	if _, err := Enroll(context.Background(), "", "Nobody", []string{blank}, &identifytest.Fake{}, identify.EnrollOptions{}, io.Discard); err == nil {
		t.Fatal("enrolled a photo without a face")
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 0 {
		t.Errorf("left %v", entries)
	}
}

// TestEditErrorsNameTheBuiltInModel: `enroll --remove Nobody` without a
// run once answered "/tmp/.default-run-2403100407 knows no ...", naming
// the temporary copy, which is gone by the time the user reads it.
func TestEditErrorsNameTheBuiltInModel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "default-run")
	t.Setenv(EnvDir, dir)
	err := Rename("", "Nobody", "Somebody", identify.EnrollOptions{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `the built-in model knows no "Nobody"`) || strings.Contains(err.Error(), ".default-run-") {
		t.Fatalf("rename of a missing name: %v", err)
	}
	if runs.IsRun(dir) {
		t.Error("a failed rename made a copy")
	}
}
