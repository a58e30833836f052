package identify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// A batch with a faceless photo, a broken one, a two-person photo and a
// repeat enrolls the person from the rest and lists the others; strict
// mode refuses the same batch and leaves the run as it was.
func TestEnrollBatchSkipsUnusablePhotos(t *testing.T) {
	run := faceRun(t)
	shots := enrollShots(t, 3, 3)
	dir := t.TempDir()
	noFace := filepath.Join(dir, "empty.png")
	must(t, identifytest.WritePhoto(noFace, 64, 48))
	broken := filepath.Join(dir, "broken.avif")
	must(t, os.WriteFile(broken, []byte("\x00\x00\x00\x1cftypavif not really"), 0o644))
	group := filepath.Join(dir, "group.png")
	must(t, identifytest.WritePhoto(group, 64, 48, identifytest.Face{P: 3, X: 2, Y: 5, Size: 20, G: 128, B: 128},
		identifytest.Face{P: 5, X: 36, Y: 5, Size: 18, G: 128, B: 128}))
	// A small face in the background leaves no doubt.
	background := filepath.Join(dir, "background.png")
	must(t, identifytest.WritePhoto(background, 64, 48, identifytest.Face{P: 3, X: 2, Y: 5, Size: 24, G: 90, B: 160},
		identifytest.Face{P: 5, X: 40, Y: 5, Size: 8, G: 128, B: 128}))
	batch := append(slices.Clone(shots), noFace, broken, group, shots[0], background)
	opt := EnrollOptions{PipelineVersion: "test-1"}

	snapshot, _ := os.ReadFile(filepath.Join(run, runs.BestFile))
	strict := opt
	strict.Strict = true
	_, err := Enroll(context.Background(), run, "Dee", batch, &identifytest.Fake{}, strict)
	var be *BatchError
	if !errors.As(err, &be) || !be.Strict || len(be.Skipped) != 4 || !strings.Contains(err.Error(), "empty.png: no face found") {
		t.Fatalf("strict enroll: %v", err)
	}
	if now, _ := os.ReadFile(filepath.Join(run, runs.BestFile)); string(now) != string(snapshot) {
		t.Error("a strict refusal changed best.safetensors")
	}
	// Phones' formats are read (the fixtures of package data).
	for _, f := range []string{"quadrants.avif", "quadrants.heic"} {
		_, err := Enroll(context.Background(), run, "Dee", []string{filepath.Join("..", "data", "testdata", f)}, &identifytest.Fake{}, opt)
		if err == nil || strings.Contains(err.Error(), "unreadable") || !strings.Contains(err.Error(), f+": ") {
			t.Errorf("%s: %v, want it read (then refused: the fake sees two faces in the quadrants)", f, err)
		}
	}

	res, err := Enroll(context.Background(), run, "Dee", batch, &identifytest.Fake{}, opt)
	must(t, err)
	if res.Added != 4 || !slices.Equal(res.Used, append(slices.Clone(shots), background)) {
		t.Errorf("enrolled %d photos %v, want the three shots and the background one", res.Added, res.Used)
	}
	want := map[string]string{noFace: "no face found", broken: "unreadable: ", group: "2 faces of similar size", shots[0]: "the same photo as"}
	if len(res.Skipped) != len(want) {
		t.Errorf("skipped %v", res.Skipped)
	}
	for i, s := range res.Skipped {
		if w, ok := want[s.Path]; !ok || !strings.Contains(s.Reason, w) || i == 3 && s.Path != shots[0] {
			t.Errorf("skipped %s: %q, want %q", s.Path, s.Reason, w)
		}
	}
	after, err := OpenFaceRun(run)
	must(t, err)
	if got := after.Face.Enrolled[len(after.Face.Enrolled)-1].Photos; len(got) != 4 {
		t.Errorf("model.json records photos %v, want only the four used", got)
	}
	// Nothing usable: refused, whatever the mode.
	if _, err := Enroll(context.Background(), run, "Eve", []string{noFace, group}, &identifytest.Fake{}, opt); !errors.As(err, &be) ||
		be.Strict || !strings.Contains(err.Error(), "none of the 2 photo(s)") {
		t.Errorf("all unusable: %v", err)
	}
}

func TestEnrollCatchesCaseAndSpacingVariants(t *testing.T) {
	run := faceRun(t)
	opt := EnrollOptions{PipelineVersion: "test-1"}
	must(t, errOnly(Enroll(context.Background(), run, "Jim Carrey", enrollShots(t, 3, 2), &identifytest.Fake{}, opt)))
	for _, who := range []string{"jim carrey", "JIM CARREY", "JimCarrey", "jim_carrey", "Jim-Carrey"} {
		_, err := Enroll(context.Background(), run, who, enrollShots(t, 3, 1), &identifytest.Fake{}, opt)
		if err == nil || !strings.Contains(err.Error(), `already knows "Jim Carrey"`) {
			t.Errorf("enroll %q beside \"Jim Carrey\": %v", who, err)
		}
	}
	if !sameName("Straße", "STRASSE") || sameName("Jim Carrey", "Jim Carey") {
		t.Error("sameName folds too little or too much")
	}
}

func errOnly(_ any, err error) error { return err }

func TestListRenameRemove(t *testing.T) {
	run := faceRun(t)
	opt := EnrollOptions{PipelineVersion: "test-1"}
	must(t, errOnly(Enroll(context.Background(), run, "dee smith", enrollShots(t, 3, 2), &identifytest.Fake{}, opt)))
	people, err := People(run)
	must(t, err)
	if len(people) != 4 || people[0] != (Person{Name: "Ann", Photos: 5}) || people[3].Name != "dee smith" ||
		people[3].Photos != 2 || people[3].Enrolled == "" {
		t.Fatalf("people %+v", people)
	}

	// Fixing the case is a rename; taking someone else's name is not.
	must(t, Rename(run, "dee smith", "Dee Smith", opt))
	for _, tc := range []struct{ old, new, want string }{
		{"Dee Smith", "Ann", `already knows "Ann"`},
		{"Dee Smith", "ann", `differs only in case`},
		{"Zed", "Zoe", `knows no "Zed"`},
		{"dee  smith", "Zoe", `did you mean "Dee Smith"`},
		{"Dee Smith", "unknown", "reserved"},
		{"Dee Smith", "Dee Smith", "already called so"},
	} {
		if err := Rename(run, tc.old, tc.new, opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rename %q to %q: %v, want %q", tc.old, tc.new, err, tc.want)
		}
	}
	after, err := OpenFaceRun(run)
	must(t, err)
	if !slices.Equal(after.Info.Classes, []string{"Ann", "Bob", "Cid", "Dee Smith"}) || after.Face.Enrolled[0].Name != "Dee Smith" {
		t.Errorf("after rename: %v %+v", after.Info.Classes, after.Face.Enrolled)
	}
	if a := after.Model.Identify(identifytest.Descriptor(3, 128, 128), after.Rule(), 1); a.Name != "Dee Smith" {
		t.Errorf("after rename the person is named %q", a.Name)
	}

	must(t, Remove(context.Background(), run, "Bob", opt))
	after, err = OpenFaceRun(run)
	must(t, err)
	if !slices.Equal(after.Info.Classes, []string{"Ann", "Cid", "Dee Smith"}) || len(after.Model.Train) != 12 {
		t.Fatalf("after remove: %v, %d descriptors", after.Info.Classes, len(after.Model.Train))
	}
	for p, who := range map[int]string{0: "Ann", 1: "unknown", 2: "Cid", 3: "Dee Smith"} {
		if a := after.Model.Identify(identifytest.Descriptor(p, 128, 128), after.Rule(), 1); a.Name != who {
			t.Errorf("after removing Bob, person %d is %q, want %q", p, a.Name, who)
		}
	}
	log, _ := os.ReadFile(filepath.Join(run, runs.LogFile))
	if !strings.Contains(string(log), `renamed "dee smith" to "Dee Smith"`) || !strings.Contains(string(log), `removed "Bob"`) {
		t.Errorf("train.log:\n%s", log)
	}
	if err := Remove(context.Background(), run, "Bob", opt); err == nil || !strings.Contains(err.Error(), `knows no "Bob"`) {
		t.Errorf("removing twice: %v", err)
	}
	// Down to one person, who cannot go.
	must(t, Remove(context.Background(), run, "Ann", opt))
	must(t, Remove(context.Background(), run, "Cid", opt))
	if err := Remove(context.Background(), run, "Dee Smith", opt); err == nil || !strings.Contains(err.Error(), "only person") {
		t.Errorf("removing the last person: %v", err)
	}
	// A held lock stops them, naming its holder.
	lock, err := runs.LockRun(run, "starid train --resume", 0, nil)
	must(t, err)
	defer lock.Unlock()
	opt.Wait = 1
	if err := Rename(run, "Dee Smith", "Dee", opt); !errors.Is(err, runs.ErrInUse) {
		t.Errorf("rename beside a held lock: %v", err)
	}
}

// tableFaces describes a photo drawn by identifytest.WritePhoto with one
// face of person p as the descriptor table[p], found in the photo's middle.
type tableFaces map[int][]float32

func (t tableFaces) Faces(img *faces.Image) ([]faces.Face, error) {
	red := img.At(img.W/4, img.H/2, 0)
	p := int(math.Round(float64(red-100) / 7))
	return []faces.Face{{Detection: faces.Detection{Box: faces.Box{W: 10, H: 10}, Score: 0.9}, Descriptor: t[p]}}, nil
}

// A face the unknown rule gives to someone else is left out, unless the
// rest of the batch shows it is this person's (then it is nearer them);
// a batch that is all someone else's is all left out.
func TestEnrollSomeoneElsesFace(t *testing.T) {
	run := faceRun(t)
	r, err := OpenFaceRun(run)
	must(t, err)
	rule, ann := r.Rule(), r.Model.Centroids[0]
	// u points away from Ann, towards no one in particular.
	u := make([]float32, DescriptorLen)
	u[0], u[1] = 1, -1
	at := func(f float64, tweak int) []float32 {
		v := make([]float32, DescriptorLen)
		for j := range v {
			v[j] = ann[j] + float32(f*rule.MaxDistance/math.Sqrt2)*u[j]
		}
		v[5+tweak] += 0.02 // distinct photos
		return v
	}
	table := tableFaces{10: at(0.9, 0), 11: at(1.6, 1), 12: at(1.6, 2), 13: at(1.6, 3), 14: ann}
	if a := r.Model.Identify(table[10], rule, 1); a.Name != "Ann" {
		t.Skipf("the probe near Ann is %q under this run's rule; the test needs it named Ann", a.Name)
	}
	dir := t.TempDir()
	shot := func(p int) string {
		path := filepath.Join(dir, fmt.Sprintf("p%d.png", p))
		must(t, identifytest.WritePhoto(path, 64, 48, identifytest.Face{P: p, X: 4, Y: 4, Size: 30}))
		return path
	}
	opt := EnrollOptions{PipelineVersion: "test-1"}
	// With too few other photos to vouch for it, the rule decides.
	_, err = Enroll(context.Background(), run, "Eve", []string{shot(10)}, table, opt)
	if err == nil || !strings.Contains(err.Error(), `already names this face "Ann"`) {
		t.Errorf("one photo near Ann: %v", err)
	}
	// A batch that as a whole looks like Ann keeps none of Ann's faces.
	res, err := Enroll(context.Background(), run, "Zed", []string{shot(14), shot(10), shot(11)}, table, opt)
	if err != nil || len(res.Skipped) != 2 || !strings.HasSuffix(res.Skipped[0].Path, "p14.png") ||
		!strings.HasSuffix(res.Skipped[1].Path, "p10.png") || !strings.Contains(res.Skipped[1].Reason, `"Ann"`) {
		t.Errorf("a batch that looks like Ann: %+v, %v", res, err)
	}
	must(t, Remove(context.Background(), run, "Zed", opt))
	res, err = Enroll(context.Background(), run, "Dee", []string{shot(10), shot(11), shot(12), shot(13)}, table, opt)
	must(t, err)
	if res.Added != 4 {
		t.Errorf("the face near Ann but nearer the rest of Dee's batch was left out: %+v", res.Skipped)
	}
}

// Whose photo a group photo is does not depend on detector scores, which
// vary by 0.3 between faces of similar size (face-api's sample3: 0.78 for
// the middle face, 0.67 for the two others).
func TestEnrollFaceOfAGroupPhoto(t *testing.T) {
	face := func(side, score float64) faces.Face {
		return faces.Face{Detection: faces.Detection{Box: faces.Box{W: side, H: side}, Score: score}}
	}
	for _, tc := range []struct {
		fs    []faces.Face
		clear bool
	}{
		{[]faces.Face{face(330, 0.67), face(303, 0.78), face(280, 0.67)}, false},
		{[]faces.Face{face(300, 0.9), face(200, 0.6)}, false},
		{[]faces.Face{face(300, 0.9), face(170, 0.95)}, true}, // a face in the background
		{[]faces.Face{face(300, 0.7)}, true},
	} {
		f, why := enrollFace(tc.fs)
		if (f != nil) != tc.clear || !tc.clear && !strings.Contains(why, "faces of similar size") {
			t.Errorf("faces %+v: main %v (%q), want clear=%v", tc.fs, f, why, tc.clear)
		}
	}
}

// Enrolling the same photos twice (the same command run again, or a
// folder given again with a few new photos) adds only the new ones: the
// repeats are listed as already in the run. Before, each repeat was added
// again, counting the person's photos twice and weighting them double.
func TestEnrollSamePhotosAgain(t *testing.T) {
	run := faceRun(t)
	shots := enrollShots(t, 3, 4)
	opt := EnrollOptions{PipelineVersion: "test-1"}
	first, err := Enroll(context.Background(), run, "Dee", shots[:3], &identifytest.Fake{}, opt)
	must(t, err)
	again, err := Enroll(context.Background(), run, "Dee", shots, &identifytest.Fake{}, opt)
	must(t, err)
	if again.Added != 1 || again.Total != first.Total+1 || !slices.Equal(again.Used, shots[3:]) {
		t.Errorf("second enroll added %d (%v), %d in all; want only %s, %d in all", again.Added, again.Used, again.Total, shots[3], first.Total+1)
	}
	if len(again.Skipped) != 3 || !strings.Contains(again.Skipped[0].Reason, "already enrolled") {
		t.Errorf("skipped %v, want the first three as already enrolled", again.Skipped)
	}
	var be *BatchError
	if _, err := Enroll(context.Background(), run, "Dee", shots[:2], &identifytest.Fake{}, opt); !errors.As(err, &be) ||
		!strings.Contains(err.Error(), "already enrolled") {
		t.Errorf("enrolling only repeats: %v, want a refusal saying they are enrolled already", err)
	}
}
