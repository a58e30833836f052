package identify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
	"starid/internal/safetensors"
)

var people = []string{"Ann", "Bob", "Cid", "Dee"}

func testCache(t *testing.T) *Cache {
	return &Cache{Dir: filepath.Join(t.TempDir(), "cache"), Version: "test-1"}
}

func TestCacheRoundTripAndCorruption(t *testing.T) {
	c := testCache(t)
	key := strings.Repeat("ab", 32)
	want := []faces.Face{{Detection: faces.Detection{Box: faces.Box{X: 1, Y: 2, W: 3, H: 4}, Score: 0.5},
		Descriptor: identifytest.Descriptor(1, 10, 200)}}
	if _, ok, err := c.Get(key); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v", ok, err)
	}
	if err := c.Put(key, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.Get(key)
	if !ok || err != nil || len(got) != 1 || got[0].Box != want[0].Box || got[0].Score != 0.5 ||
		!slices.Equal(got[0].Descriptor, want[0].Descriptor) {
		t.Fatalf("round trip: ok %v err %v got %+v", ok, err, got)
	}
	// No face is an answer too, distinct from a miss.
	key2 := strings.Repeat("cd", 32)
	if err := c.Put(key2, nil); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := c.Get(key2); !ok || err != nil || len(got) != 0 {
		t.Errorf("no-face entry: %v %v %v", got, ok, err)
	}
	orig, err := os.ReadFile(c.path(key))
	if err != nil {
		t.Fatal(err)
	}
	digit := strings.Index(string(orig), `"descriptor":[`) + len(`"descriptor":[`) + 3
	for name, edit := range map[string]func([]byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"changed number": func(b []byte) []byte {
			b = slices.Clone(b)
			if b[digit] == '1' {
				b[digit] = '2'
			} else {
				b[digit] = '1'
			}
			return b
		},
		"other version": func(b []byte) []byte { return []byte(strings.Replace(string(b), "test-1", "test-0", 1)) },
		"empty":         func(b []byte) []byte { return nil },
	} {
		if err := os.WriteFile(c.path(key), edit(orig), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := c.Get(key); ok || !errors.Is(err, errCorrupt) {
			t.Errorf("%s: ok %v err %v, want a corrupt-entry error", name, ok, err)
		}
	}
	var nilCache *Cache
	if err := nilCache.Put(key, want); err != nil {
		t.Error(err)
	}
	if _, ok, _ := nilCache.Get(key); ok {
		t.Error("nil cache hit")
	}
}

func TestDescribeCacheAndOrder(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	one := filepath.Join(dir, "one.png")
	two := filepath.Join(dir, "two.png")
	none := filepath.Join(dir, "none.png")
	broken := filepath.Join(dir, "broken.png")
	must(t, identifytest.WritePhoto(one, 64, 48, identifytest.RandomFace(r, 2)))
	// The right-hand face is larger: it must come first.
	must(t, identifytest.WritePhoto(two, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 8, G: 1, B: 2},
		identifytest.Face{P: 3, X: 40, Y: 10, Size: 20, G: 3, B: 4}))
	must(t, identifytest.WritePhoto(none, 64, 48))
	must(t, os.WriteFile(broken, []byte("\x89PNG\r\n\x1a\n broken"), 0o644))
	paths := []string{one, two, none, broken}
	fake := &identifytest.Fake{}
	c := testCache(t)
	var notes []string
	opt := DescribeOptions{Cache: c, Workers: 3, Note: func(s string) { notes = append(notes, s) }}
	got, st, err := Describe(context.Background(), fake, paths, nil, opt)
	if err != nil {
		t.Fatal(err)
	}
	if fake.Calls() != 3 || st.Computed != 3 || st.Cached != 0 || st.Unusable != 1 {
		t.Errorf("first pass: %d calls, stats %+v", fake.Calls(), st)
	}
	if len(got[0].Faces) != 1 || len(got[1].Faces) != 2 || len(got[2].Faces) != 0 || got[3].Err == nil {
		t.Fatalf("faces %d %d %d, broken err %v", len(got[0].Faces), len(got[1].Faces), len(got[2].Faces), got[3].Err)
	}
	if f := got[1].Faces; f[0].Box.W != 20 || !slices.Equal(f[0].Descriptor, identifytest.Descriptor(3, 3, 4)) {
		t.Errorf("two faces not largest first: %+v", f[0].Box)
	}
	if !strings.Contains(got[3].Err.Error(), "broken.png") {
		t.Errorf("broken photo error %v does not name it", got[3].Err)
	}
	// Second pass, with and without the scan's keys: nothing computed.
	keys := []string{got[0].Key, got[1].Key, got[2].Key, got[3].Key}
	for _, k := range [][]string{nil, keys} {
		again, st, err := Describe(context.Background(), fake, paths, k, opt)
		if err != nil || fake.Calls() != 3 || st.Cached != 3 || st.Computed != 0 {
			t.Errorf("second pass (keys %v): %d calls, stats %+v, %v", k != nil, fake.Calls(), st, err)
		}
		if len(again[1].Faces) != 2 || !slices.Equal(again[1].Faces[0].Descriptor, got[1].Faces[0].Descriptor) {
			t.Errorf("cached answer differs: %+v", again[1].Faces)
		}
	}
	// A damaged entry is recomputed and replaced, with a warning.
	must(t, os.WriteFile(c.path(got[0].Key), []byte(`{"version":"test-1"`), 0o644))
	_, st, err = Describe(context.Background(), fake, paths, keys, opt)
	if err != nil || fake.Calls() != 4 || st.Corrupt != 1 || st.Computed != 1 || len(notes) != 1 {
		t.Errorf("corrupt entry: %d calls, stats %+v, notes %q, %v", fake.Calls(), st, notes, err)
	}
	if _, ok, err := c.Get(got[0].Key); !ok || err != nil {
		t.Errorf("entry not repaired: %v %v", ok, err)
	}
}

func TestLazyLoadsOnlyWhenNeeded(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "a.png")
	must(t, identifytest.WritePhoto(photo, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 9}))
	c := testCache(t)
	if _, _, err := Describe(context.Background(), &identifytest.Fake{}, []string{photo}, nil, DescribeOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	loads := 0
	failing := Lazy(func() (Describer, error) { loads++; return nil, errors.New("weights missing") })
	got, _, err := Describe(context.Background(), failing, []string{photo}, nil, DescribeOptions{Cache: c})
	if err != nil || got[0].Err != nil || loads != 0 {
		t.Errorf("cached photo: err %v / %v, %d loads", err, got[0].Err, loads)
	}
	other := filepath.Join(dir, "b.png")
	must(t, identifytest.WritePhoto(other, 64, 48))
	got, _, _ = Describe(context.Background(), failing, []string{other, other}, nil, DescribeOptions{Cache: c})
	var le *LoadError
	if !errors.As(got[0].Err, &le) || !strings.Contains(got[0].Err.Error(), "weights missing") || loads != 1 {
		t.Errorf("uncached photo: %v, %d loads", got[0].Err, loads)
	}
}

// makeFolder writes a data folder of people with perPerson photos each.
func makeFolder(t *testing.T, names []string, perPerson int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "photos")
	must(t, identifytest.Folder(dir, names, perPerson, 7))
	return dir
}

func trainConfig(data, out string, c *Cache) TrainConfig {
	return TrainConfig{Settings: runs.Settings{Data: data, Out: out, Epochs: 30, Batch: 16, Optimizer: "adam", LR: 1e-2,
		Momentum: 0.9, Schedule: "none", TrainFrac: 0.8, Seed: 1, Crop: "none"}, Cache: c, PipelineVersion: "test-1"}
}

func TestTrainFaceRun(t *testing.T) {
	photos := makeFolder(t, people, 10)
	// A photo without a face: whichever side of the split it lands on, it
	// is listed, and on the test side it is an error.
	must(t, identifytest.WritePhoto(filepath.Join(photos, "Ann", "99.png"), 64, 48))
	fake := &identifytest.Fake{}
	c := testCache(t)
	out := filepath.Join(t.TempDir(), "run")
	var so, se strings.Builder
	res, err := Train(context.Background(), trainConfig(photos, out, c), fake, runs.Output{Stdout: &so, Stderr: &se})
	if err != nil {
		t.Fatalf("%v\n%s", err, se.String())
	}
	if fake.Calls() != 41 || res.Stats.Computed != 41 {
		t.Errorf("%d describer calls, want 41", fake.Calls())
	}
	if !slices.Equal(res.NoFace, []string{"Ann/99.png"}) || !strings.Contains(se.String(), "99.png: no face found") {
		t.Errorf("no-face photos %v; stderr:\n%s", res.NoFace, se.String())
	}
	if lines := strings.Count(so.String(), "Epoch: "); lines != 30 || !strings.Contains(so.String(), "Epoch: 30/30") {
		t.Errorf("%d epoch lines:\n%s", lines, so.String())
	}
	// Everything with a face is easy; the no-face photo is the only
	// possible error.
	noFaceInTest := 0
	split, err := readSplitTest(out)
	must(t, err)
	if slices.Contains(split, "Ann/99.png") {
		noFaceInTest = 1
	}
	if want := float64(res.Test-noFaceInTest) / float64(res.Test); res.TestAcc != want || res.TestAccOpenSet != want {
		t.Errorf("test accuracy %v (open set %v), want %v (%d no-face test photos of %d)", res.TestAcc, res.TestAccOpenSet, want, noFaceInTest, res.Test)
	}
	for _, f := range []string{"model.json", "best.safetensors", "last.safetensors", "history.csv", "curves.png", "split.json", "train.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run file: %v", err)
		}
	}
	run, err := OpenFaceRun(out)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Model != "face" || !slices.Equal(run.Info.Classes, people) || run.Info.PipelineVersion != "test-1" ||
		run.Info.Unknown == nil || *run.Info.Unknown != res.Rule.MaxDistance || run.Face.Normalize != "standardize" {
		t.Errorf("model.json %+v face %+v", run.Info, run.Face)
	}
	// The fake's faces lie within ~0.2 of their person's point and people
	// ~1.4 apart: the calibrated distance must sit between.
	if r := res.Rule.MaxDistance; r < 0.05 || r > 0.5 {
		t.Errorf("calibrated distance %v, outside what separates the fake's people", r)
	}
	if tr, err := runs.OpenRun(out); err != nil || tr.Model != nil || tr.Info.Model != "face" {
		t.Errorf("runs.OpenRun of a face run: %v", err)
	}

	// A second run over the same photos describes nothing.
	out2 := filepath.Join(t.TempDir(), "run2")
	res2, err := Train(context.Background(), trainConfig(photos, out2, c), fake, runs.Output{})
	if err != nil || fake.Calls() != 41 || res2.Stats.Cached != 41 {
		t.Errorf("second run: %d calls, stats %+v, %v", fake.Calls(), res2.Stats, err)
	}
	if res2.TestAcc != res.TestAcc || res2.Rule != res.Rule {
		t.Errorf("same seed, different results: %v/%v vs %v/%v", res2.TestAcc, res2.Rule, res.TestAcc, res.Rule)
	}
}

func readSplitTest(run string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(run, runs.SplitFile))
	if err != nil {
		return nil, err
	}
	var s struct{ Test []string }
	return s.Test, json.Unmarshal(b, &s)
}

func TestTrainRefusals(t *testing.T) {
	photos := makeFolder(t, people[:2], 4)
	c := testCache(t)
	full := t.TempDir()
	must(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	for _, tc := range []struct {
		name string
		edit func(*TrainConfig)
		fake *identifytest.Fake
		want string
	}{
		{"exclude unknown class", func(c *TrainConfig) { c.Exclude = []string{"Zed"} }, nil, `--exclude "Zed"`},
		{"exclude leaves one", func(c *TrainConfig) { c.Exclude = []string{"Bob"} }, nil, "leaves 1 class"},
		{"resume", func(c *TrainConfig) { c.Resume = true }, nil, "--resume"},
		{"l2", func(c *TrainConfig) { c.L2 = 0.1 }, nil, "--l1/--l2"},
		{"huge batch", func(c *TrainConfig) { c.Batch = 1e14 }, nil, "--batch 100000000000000: must be between 1 and"},
		{"not empty", func(c *TrainConfig) { c.Out = full }, nil, "not empty"},
		{"describer fails", nil, &identifytest.Fake{Fail: errors.New("boom")}, "no face was found in any"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			cfg := trainConfig(photos, out, c)
			cfg.Cache = nil
			if tc.edit != nil {
				tc.edit(&cfg)
			}
			fake := tc.fake
			if fake == nil {
				fake = &identifytest.Fake{}
			}
			_, err := Train(context.Background(), cfg, fake, runs.Output{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("failed run left %s behind", out)
			}
		})
	}
	// A describer that cannot load at all stops the run with its reason.
	out := filepath.Join(t.TempDir(), "run")
	_, err := Train(context.Background(), trainConfig(photos, out, nil),
		Lazy(func() (Describer, error) { return nil, errors.New("run `starid models fetch`") }), runs.Output{})
	if err == nil || !strings.Contains(err.Error(), "starid models fetch") {
		t.Errorf("missing weights: %v", err)
	}
}

// TestCalibrateSeparatesStrangers: calibrated on known people only, the
// rule rejects the fake's strangers and keeps (almost) all known faces.
func TestCalibrateSeparatesStrangers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	x, y, kx, ky := fakeFaces(r, 5)
	classes := []string{"a", "b", "c", "d", "e"}
	hc := HeadConfig{Epochs: 40, Batch: 16, Optimizer: "adam", LR: 1e-2, Seed: 1}
	rule, cal, err := Calibrate(context.Background(), classes, x, y, hc, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Samples != 100 || cal.FalseRejection > 0.02 || rule.MaxDistance <= 0 || rule.MaxDistance > 0.6 {
		t.Errorf("rule %+v calibration %+v", rule, cal)
	}
	m, err := Fit(context.Background(), classes, x, y, hc, nil)
	must(t, err)
	rejectedKnown := 0
	for i, d := range kx {
		a := m.Identify(d, rule, 3)
		if a.Class == eval.Unknown {
			rejectedKnown++
		} else if a.Class != ky[i] {
			t.Errorf("known face of %d named %s", ky[i], a.Name)
		}
	}
	if rejectedKnown > 2 { // 2 of 50 = 4%: the target is 2% on calibration data
		t.Errorf("%d of %d known faces rejected", rejectedKnown, len(kx))
	}
	for p := 5; p < 10; p++ {
		for range 10 {
			a := m.Identify(identifytest.Descriptor(p, uint8(r.IntN(256)), uint8(r.IntN(256))), rule, 3)
			if a.Class != eval.Unknown || a.Name != "unknown" || a.Closest < 0 || a.ClosestDistance < rule.MaxDistance {
				t.Errorf("stranger %d answered %+v", p, a)
			}
		}
	}
	// Too few descriptors: the default rule, said so.
	rule, cal, err = Calibrate(context.Background(), classes[:2], x[:4], []int{0, 0, 1, 1}, hc, 0.02)
	if err != nil || rule != DefaultRule || !strings.Contains(cal.Method, "default") {
		t.Errorf("small calibration: %+v %+v %v", rule, cal, err)
	}
}

func TestEnroll(t *testing.T) {
	photos := makeFolder(t, people[:3], 8)
	c := testCache(t)
	run := filepath.Join(t.TempDir(), "run")
	if _, err := Train(context.Background(), trainConfig(photos, run, c), &identifytest.Fake{}, runs.Output{}); err != nil {
		t.Fatal(err)
	}
	// Three photos of person 3 ("Dee"), whom the run does not know yet.
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(9, 9))
	var shots []string
	for i := range 4 {
		p := filepath.Join(dir, "dee"+string(rune('0'+i))+".png")
		must(t, identifytest.WritePhoto(p, 64, 48, identifytest.RandomFace(r, 3)))
		shots = append(shots, p)
	}
	before, err := OpenFaceRun(run)
	must(t, err)
	probe := identifytest.Descriptor(3, 100, 150)
	if a := before.Model.Identify(probe, before.Rule(), 3); a.Class != eval.Unknown {
		t.Fatalf("before enrolling, Dee is %s", a.Name)
	}
	fake := &identifytest.Fake{}
	opt := EnrollOptions{Cache: c, PipelineVersion: "test-1"}
	res, err := Enroll(context.Background(), run, "Dee", shots[:3], fake, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !res.New || res.Added != 3 || res.Classes != 4 {
		t.Errorf("result %+v", res)
	}
	after, err := OpenFaceRun(run)
	must(t, err)
	if !slices.Equal(after.Info.Classes, []string{"Ann", "Bob", "Cid", "Dee"}) || len(after.Face.Enrolled) != 1 ||
		after.Face.Enrolled[0].Name != "Dee" || len(after.Face.Enrolled[0].Photos) != 3 || after.Rule() != before.Rule() {
		t.Errorf("after enroll: classes %v face %+v rule %v", after.Info.Classes, after.Face, after.Rule())
	}
	if a := after.Model.Identify(probe, after.Rule(), 3); a.Name != "Dee" {
		t.Errorf("after enrolling, Dee is %+v", a)
	}
	// The old people are still named.
	if a := after.Model.Identify(identifytest.Descriptor(1, 20, 30), after.Rule(), 3); a.Name != "Bob" {
		t.Errorf("Bob is now %s", a.Name)
	}
	// More photos of a known person add no class.
	res, err = Enroll(context.Background(), run, "Dee", shots[3:], fake, opt)
	if err != nil || res.New || res.Total != 4 || res.Classes != 4 {
		t.Errorf("second enroll: %+v %v", res, err)
	}
	log, _ := os.ReadFile(filepath.Join(run, runs.LogFile))
	if strings.Count(string(log), `enrolled "Dee"`) != 2 {
		t.Errorf("train.log:\n%s", log)
	}

	noFace := filepath.Join(dir, "empty.png")
	must(t, identifytest.WritePhoto(noFace, 64, 48))
	vgg := t.TempDir()
	must(t, os.WriteFile(filepath.Join(vgg, "model.json"), []byte(`{"version":1,"model":"vgg16","classes":["a"],"size":32,"std":[0.2,0.2,0.2]}`), 0o644))
	snapshot, _ := os.ReadFile(filepath.Join(run, runs.BestFile))
	for _, tc := range []struct {
		name, run, who string
		photos         []string
		want           string
	}{
		{"empty name", run, " ", shots, "name is empty"},
		{"unknown name", run, "Unknown", shots, "reserved"},
		{"slash", run, "a/b", shots, "no slashes"},
		{"no face", run, "Eve", []string{noFace}, "empty.png: no face found"},
		{"unreadable", run, "Eve", []string{filepath.Join(dir, "nope.png")}, "nope.png"},
		{"someone else's face", run, "Eve", []string{shots[0]}, `already names this face "Dee"`},
		{"no photos", run, "Eve", nil, "no photos"},
		{"vgg run", vgg, "Eve", shots, "not a face run"},
		{"missing run", filepath.Join(dir, "norun"), "Eve", shots, "no such run directory"},
	} {
		_, err := Enroll(context.Background(), tc.run, tc.who, tc.photos, fake, opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(run, runs.BestFile)); string(now) != string(snapshot) {
		t.Error("a refused enroll changed best.safetensors")
	}
	opt.PipelineVersion = "test-2"
	if _, err := Enroll(context.Background(), run, "Eve", shots, fake, opt); err == nil || !strings.Contains(err.Error(), "test-2") {
		t.Errorf("other pipeline version: %v", err)
	}
}

func TestLoadModelRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	x := [][]float32{identifytest.Descriptor(0, 1, 1), identifytest.Descriptor(1, 1, 1)}
	m, err := Fit(context.Background(), []string{"a", "b"}, x, []int{0, 1}, HeadConfig{Epochs: 1, Batch: 2, LR: 1e-3}, nil)
	must(t, err)
	must(t, m.Save(path, "v", 1))
	back, version, err := LoadModel(path)
	if err != nil || version != "v" || !slices.Equal(back.Classes, m.Classes) || !slices.Equal(back.Labels, []int{0, 1}) ||
		!slices.Equal(back.Head.Weight.Value.Data, m.Head.Weight.Value.Data) {
		t.Fatalf("round trip: %v %q", err, version)
	}
	b, _ := os.ReadFile(path)
	must(t, os.WriteFile(path, b[:len(b)-100], 0o644))
	if _, _, err := LoadModel(path); err == nil {
		t.Error("truncated head loaded")
	}

	// The class list in the metadata must agree with the weights and be
	// usable as folder names.
	many := make([]string, runs.MaxClasses)
	for i := range many {
		many[i] = fmt.Sprint("p", i)
	}
	for _, c := range []struct {
		name    string
		classes []string
		want    string
	}{
		{"more classes than weight rows", many, fmt.Sprintf("has shape [2 128], want [%d 128]", runs.MaxClasses)},
		{"more classes than starid allows", append(many, "one more"), "more than this starid allows"},
		{"repeated class", []string{"a", "a"}, `class "a" appears twice`},
		{"class with a path", []string{"a", "../b"}, "path separator"},
	} {
		cl, _ := json.Marshal(c.classes)
		f, err := os.Create(path)
		must(t, err)
		must(t, safetensors.Write(f, []safetensors.Tensor{
			{Name: tHeadW, Shape: []int{2, DescriptorLen}, F32: m.Head.Weight.Value.Data},
			{Name: tHeadB, Shape: []int{2}, F32: m.Head.Bias.Value.Data},
		}, map[string]string{mClasses: string(cl), mVersion: "v"}))
		must(t, f.Close())
		if _, _, err := LoadModel(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want %q with the file named", c.name, err, c.want)
		}
	}
}

// TestFitAndIdentifyOddInputs: a batch far larger than the data, and a
// descriptor with NaNs, which is near no one and so unknown.
func TestFitAndIdentifyOddInputs(t *testing.T) {
	x := [][]float32{identifytest.Descriptor(0, 1, 1), identifytest.Descriptor(1, 1, 1)}
	m, err := Fit(context.Background(), []string{"a", "b"}, x, []int{0, 1}, HeadConfig{Epochs: 1, Batch: 1 << 50, LR: 1e-3}, nil)
	must(t, err)
	bad := slices.Clone(x[0])
	bad[3] = float32(math.NaN())
	a := m.Identify(bad, Rule{MaxDistance: 0.6}, 2)
	if a.Name != eval.UnknownName || a.Closest < 0 || a.Closest >= 2 {
		t.Errorf("NaN descriptor: name %q, closest %d", a.Name, a.Closest)
	}
	if a := m.Identify(x[1], Rule{MaxDistance: math.Inf(1)}, 2); a.Name != "b" {
		t.Errorf("b's own descriptor named %q", a.Name)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDescribeProgress(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 4 {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		must(t, identifytest.WritePhoto(p, 64, 48, identifytest.Face{P: i, X: 1, Y: 1, Size: 9}))
		paths = append(paths, p)
	}
	var mu sync.Mutex
	var done []int
	_, _, err := Describe(context.Background(), &identifytest.Fake{}, paths, nil, DescribeOptions{Workers: 2,
		Progress: func(d, total int) {
			mu.Lock()
			defer mu.Unlock()
			if total != len(paths) {
				t.Errorf("progress total %d, want %d", total, len(paths))
			}
			done = append(done, d)
		}})
	must(t, err)
	// Called under Describe's lock: one call per photo, in order.
	if !slices.Equal(done, []int{1, 2, 3, 4}) {
		t.Errorf("progress calls %v, want 1..4", done)
	}
}
