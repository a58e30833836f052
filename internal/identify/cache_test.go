package identify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
)

// testLandmarks are 68 points with values JSON must carry to the last bit.
func testLandmarks(shift float64) []faces.Point {
	lm := make([]faces.Point, faces.NumLandmarks)
	for i := range lm {
		lm[i] = faces.Point{X: shift + float64(i)/3, Y: shift + 1e-7*float64(i*i) + 0.1}
	}
	return lm
}

func TestCacheLandmarks(t *testing.T) {
	c := testCache(t)
	key := strings.Repeat("ef", 32)
	want := []faces.Face{
		{Detection: faces.Detection{Box: faces.Box{X: 1, Y: 2, W: 30, H: 40}, Score: 0.9},
			Descriptor: identifytest.Descriptor(1, 10, 200), Landmarks: testLandmarks(17.25)},
		// A face without landmarks beside one with them.
		{Detection: faces.Detection{Box: faces.Box{X: 50, Y: 2, W: 10, H: 10}, Score: 0.8},
			Descriptor: identifytest.Descriptor(2, 10, 200)},
	}
	must(t, c.Put(key, want))
	got, ok, err := c.Get(key)
	if !ok || err != nil || len(got) != 2 {
		t.Fatalf("round trip: ok %v err %v got %d faces", ok, err, len(got))
	}
	if !slices.Equal(got[0].Landmarks, want[0].Landmarks) {
		t.Errorf("landmarks changed on the way through the cache:\n got %v\nwant %v", got[0].Landmarks, want[0].Landmarks)
	}
	if got[1].Landmarks != nil {
		t.Errorf("face without landmarks came back with %d", len(got[1].Landmarks))
	}
	if HasLandmarks(got) || !HasLandmarks(got[:1]) || !HasLandmarks(nil) {
		t.Errorf("HasLandmarks: both %v, first %v, none %v", HasLandmarks(got), HasLandmarks(got[:1]), HasLandmarks(nil))
	}

	orig, err := os.ReadFile(c.path(key))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(string) string{
		// The check sum covers the landmarks.
		"changed landmark": func(s string) string { return strings.Replace(s, `"landmarks":[[17.25,`, `"landmarks":[[17.5,`, 1) },
	} {
		b := edit(string(orig))
		if b == string(orig) {
			t.Fatalf("%s: the edit did not apply to %s", name, orig)
		}
		must(t, os.WriteFile(c.path(key), []byte(b), 0o644))
		if _, ok, err := c.Get(key); ok || !errors.Is(err, errCorrupt) {
			t.Errorf("%s: ok %v err %v, want a corrupt-entry error", name, ok, err)
		}
	}
	// A wrong number of landmarks, even with a valid check sum, is refused.
	e := cacheEntry{Version: c.Version, Key: key, Faces: []cachedFace{{Box: [4]float64{1, 2, 3, 4}, Score: 0.5,
		Descriptor: identifytest.Descriptor(1, 1, 1), Landmarks: [][2]float64{{1, 2}, {3, 4}}}}}
	writeEntry(t, c, key, e)
	if _, ok, err := c.Get(key); ok || !errors.Is(err, errCorrupt) {
		t.Errorf("2 landmarks: ok %v err %v, want a corrupt-entry error", ok, err)
	}
}

// oldCachedFace is a face entry as written before landmarks were cached.
type oldCachedFace struct {
	Box        [4]float64 `json:"box"`
	Score      float64    `json:"score"`
	Descriptor []float32  `json:"descriptor"`
}

// TestCacheReadsEntriesWithoutLandmarks: entries written before landmarks
// existed, check sum and all, still load, without landmarks.
func TestCacheReadsEntriesWithoutLandmarks(t *testing.T) {
	c := testCache(t)
	key := strings.Repeat("12", 32)
	old := []oldCachedFace{{Box: [4]float64{1.5, 2, 3, 4}, Score: 0.75, Descriptor: identifytest.Descriptor(3, 1, 2)}}
	fb, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := facesSum([]cachedFace{{Box: old[0].Box, Score: old[0].Score, Descriptor: old[0].Descriptor}})
	if err != nil {
		t.Fatal(err)
	}
	b := `{"version":"test-1","key":"` + key + `","faces":` + string(fb) + `,"check":"` + sum + `"}`
	// The old format's check sum, computed the old way, is the same.
	if oldSum := sha256Hex(fb); oldSum != sum {
		t.Fatalf("check sum of an old entry changed: %s, the old code wrote %s", sum, oldSum)
	}
	must(t, os.MkdirAll(filepath.Dir(c.path(key)), 0o755))
	must(t, os.WriteFile(c.path(key), []byte(b), 0o644))
	got, ok, err := c.Get(key)
	if !ok || err != nil || len(got) != 1 || got[0].Box.X != 1.5 || got[0].Landmarks != nil ||
		!slices.Equal(got[0].Descriptor, old[0].Descriptor) {
		t.Fatalf("old entry: ok %v err %v got %+v", ok, err, got)
	}
}

func writeEntry(t *testing.T, c *Cache, key string, e cacheEntry) {
	t.Helper()
	sum, err := facesSum(e.Faces)
	if err != nil {
		t.Fatal(err)
	}
	e.Check = sum
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.MkdirAll(filepath.Dir(c.path(key)), 0o755))
	must(t, os.WriteFile(c.path(key), b, 0o644))
}

// marking adds landmarks to the fake's faces, as the real pipeline gives
// them.
type marking struct {
	fake  identifytest.Fake
	calls atomic.Int64
}

func (m *marking) Faces(img *faces.Image) ([]faces.Face, error) {
	m.calls.Add(1)
	found, err := m.fake.Faces(img)
	for i := range found {
		found[i].Landmarks = testLandmarks(found[i].Box.X)
	}
	return found, err
}

// TestDescribeLandmarks: entries without landmarks answer runs that do
// not need them; a run that does describes those photos again (not the
// ones without a face) and rewrites their entries, after which the cache
// answers it too.
func TestDescribeLandmarks(t *testing.T) {
	dir := t.TempDir()
	one, two, none := filepath.Join(dir, "one.png"), filepath.Join(dir, "two.png"), filepath.Join(dir, "none.png")
	must(t, identifytest.WritePhoto(one, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 20, G: 1, B: 2}))
	must(t, identifytest.WritePhoto(two, 64, 48, identifytest.Face{P: 1, X: 2, Y: 2, Size: 8, G: 1, B: 2},
		identifytest.Face{P: 3, X: 40, Y: 10, Size: 20, G: 3, B: 4}))
	must(t, identifytest.WritePhoto(none, 64, 48))
	paths := []string{one, two, none}
	c := testCache(t)
	ctx := context.Background()

	plain := &identifytest.Fake{}
	if _, st, err := Describe(ctx, plain, paths, nil, DescribeOptions{Cache: c}); err != nil || st.Computed != 3 {
		t.Fatalf("first pass: %+v %v", st, err)
	}
	m := &marking{}
	got, st, err := Describe(ctx, m, paths, nil, DescribeOptions{Cache: c})
	if err != nil || st.Cached != 3 || m.calls.Load() != 0 || got[0].Faces[0].Landmarks != nil {
		t.Errorf("without Landmarks: %d calls, stats %+v, %v", m.calls.Load(), st, err)
	}
	got, st, err = Describe(ctx, m, paths, nil, DescribeOptions{Cache: c, Landmarks: true})
	if err != nil || m.calls.Load() != 2 || st.Computed != 2 || st.Cached != 1 || st.Unmarked != 2 {
		t.Errorf("with Landmarks: %d calls, stats %+v, %v", m.calls.Load(), st, err)
	}
	for _, ph := range got {
		if !HasLandmarks(ph.Faces) {
			t.Errorf("%s: faces without landmarks", ph.Path)
		}
	}
	got2, st, err := Describe(ctx, m, paths, nil, DescribeOptions{Cache: c, Landmarks: true})
	if err != nil || m.calls.Load() != 2 || st.Cached != 3 || st.Unmarked != 0 {
		t.Errorf("after the rewrite: %d calls, stats %+v, %v", m.calls.Load(), st, err)
	}
	for i := range got {
		for j := range got[i].Faces {
			if !slices.Equal(got2[i].Faces[j].Landmarks, got[i].Faces[j].Landmarks) {
				t.Errorf("%s face %d: cached landmarks differ from the computed ones", paths[i], j)
			}
		}
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
