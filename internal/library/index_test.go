package library

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDescriber reads a test photo's text: "face P" lines, one face of
// person P each (descriptor near person P's centre, noise seeded by the
// line's text), or "bad" to fail. It counts calls per path.
type fakeDescriber struct {
	delay time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeDescriber) Describe(ctx context.Context, path string, data []byte) ([]Face, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[path]++
	f.mu.Unlock()
	time.Sleep(f.delay)
	var out []Face
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "bad" {
			return nil, fmt.Errorf("not a photo")
		}
		var person, variant int
		if _, err := fmt.Sscanf(line, "face %d %d", &person, &variant); err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		out = append(out, Face{
			Box:        [4]float64{float64(10 * i), 5, 40, 40},
			Landmarks:  make([][2]float32, LandmarkCount),
			Descriptor: personDescriptor(person, variant, 0.02),
			Score:      0.9,
			Quality:    1,
			Name:       strings.Join(strings.Fields(line)[3:], " "), // "face P V Name": a run named it
		})
	}
	return out, nil
}

// personDescriptor is person p's centre (a fixed random unit vector
// scaled to dlib-like norms) plus Gaussian noise of sigma per value,
// seeded by variant.
func personDescriptor(p, variant int, sigma float64) []float32 {
	centre := rand.New(rand.NewPCG(uint64(p), 99))
	noise := rand.New(rand.NewPCG(uint64(p), uint64(variant)+1000))
	d := make([]float32, DescriptorSize)
	for i := range d {
		d[i] = float32(centre.NormFloat64()*0.09 + noise.NormFloat64()*sigma)
	}
	return d
}

// writePhotos writes name -> content test photos under dir.
func writePhotos(t testing.TB, dir string, photos map[string]string) {
	t.Helper()
	for name, body := range photos {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// manyPhotos is n photos of a few people, one or two faces each, one bad.
func manyPhotos(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		body := fmt.Sprintf("face %d %d", i%5, i)
		if i%7 == 3 {
			body += fmt.Sprintf("\nface %d %d", (i+2)%5, i+500)
		}
		if i == 11 {
			body = "bad"
		}
		m[fmt.Sprintf("set%d/p%03d.jpg", i%3, i)] = body
	}
	return m
}

// dump is the library's content, ids left out: what two runs that index
// the same photos must agree on.
func dump(t testing.TB, s *Store) []string {
	t.Helper()
	rows, err := s.DB.Query(`SELECT p.path, p.hash, p.status, p.error, coalesce(f.x, -1), coalesce(f.descriptor, '')
FROM photos p LEFT JOIN faces f ON f.photo_id = p.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var path, hash, status, msg string
		var x float64
		var desc []byte
		if err := rows.Scan(&path, &hash, &status, &msg, &x, &desc); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %s %q %g %x", filepath.Base(path), hash[:min(8, len(hash))], status, msg, x, desc))
	}
	slices.Sort(out)
	return out
}

// indexPhotos writes n generated photos into a new folder and indexes it
// into s with the fake describer; it returns the folder.
func indexPhotos(t testing.TB, s *Store, n int) string {
	t.Helper()
	dir := t.TempDir()
	writePhotos(t, dir, manyPhotos(n))
	index(t, s, &fakeDescriber{}, dir)
	return dir
}

func index(t testing.TB, s *Store, d Describer, roots ...string) Report {
	t.Helper()
	ix := &Indexer{Store: s, Describer: d, Pipeline: "test-1", Workers: 3}
	rep, err := ix.Index(context.Background(), roots)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func faceIDs(t testing.TB, s *Store, path string) []int64 {
	rows, err := s.DB.Query(s.q(`SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.path = ? ORDER BY f.id`), path)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

func TestIndexIncremental(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		s := openTest(t, loc)
		dir := t.TempDir()
		writePhotos(t, dir, manyPhotos(20))
		os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a photo"), 0o644)
		d := &fakeDescriber{}
		rep := index(t, s, d, dir)
		if rep.Seen != 20 || rep.Added != 20 || rep.Described != 19 || rep.Bad != 1 || rep.Faces != 22 || rep.Unchanged != 0 {
			t.Fatalf("first run: %+v", rep)
		}
		bad := rep.Failed
		if len(bad) != 1 || !strings.HasSuffix(bad[0].Path, "p011.jpg") || !strings.Contains(bad[0].Error, "not a photo") {
			t.Fatalf("failed photos %v", bad)
		}
		// A rerun reads nothing it indexed, and does not describe the
		// failed photo again (the same bytes would fail alike) but still
		// lists it, with its error.
		calls := d.calls[bad[0].Path]
		if rep := index(t, s, d, dir); rep.Described != 0 || rep.Added != 0 || rep.Unchanged != 19 || len(rep.Failed) != 1 ||
			rep.Failed[0] != bad[0] || d.calls[bad[0].Path] != calls {
			t.Fatalf("rerun: %+v", rep)
		}
		// Move one photo, delete one, change one, touch one.
		from, to := filepath.Join(dir, "set0/p000.jpg"), filepath.Join(dir, "moved/p000.jpg")
		before := faceIDs(t, s, from)
		os.MkdirAll(filepath.Dir(to), 0o755)
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "set1/p001.jpg"))
		os.WriteFile(filepath.Join(dir, "set2/p002.jpg"), []byte("face 4 77\nface 3 78\n"), 0o644)
		later := time.Now().Add(time.Hour)
		os.Chtimes(filepath.Join(dir, "set0/p003.jpg"), later, later)
		rep = index(t, s, d, dir)
		if rep.Moved != 1 || rep.Removed != 1 || rep.Changed != 1 || rep.Described != 1 || rep.Faces != 2 || rep.Unchanged != 16 {
			t.Fatalf("after move, delete, change and touch: %+v", rep)
		}
		if after := faceIDs(t, s, to); len(before) == 0 || !slices.Equal(before, after) {
			t.Fatalf("moved photo's faces %v, were %v", after, before)
		}
		var n int
		s.DB.QueryRow(`SELECT count(*) FROM faces`).Scan(&n)
		if n != 22-1-1+2 { // p001 had one face, p002 had one and now two
			t.Fatalf("%d faces stored", n)
		}
		// Another pipeline describes everything again.
		ix := &Indexer{Store: s, Describer: d, Pipeline: "test-2"}
		if rep, err := ix.Index(context.Background(), []string{dir}); err != nil || rep.Described != 18 || rep.Bad != 1 {
			t.Fatalf("new pipeline: %+v, %v", rep, err)
		}
	})
}

func TestIndexMissingRootKeepsFaces(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	dir := indexPhotos(t, s, 4)
	ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: "test-1"}
	if _, err := ix.Index(context.Background(), []string{filepath.Join(dir, "unmounted")}); err == nil || !strings.Contains(err.Error(), "unmounted") {
		t.Fatalf("missing folder: %v", err)
	}
	if got := len(dump(t, s)); got != 5 {
		t.Fatalf("%d rows after indexing a missing folder, want 5", got)
	}
}

// TestConcurrentIndexersDescribeOnce runs three indexers on one library
// at once (each with its own connection pool, as three processes would
// have): SQLite through claims written on the rows, PostgreSQL through
// row locks.
func TestConcurrentIndexersDescribeOnce(t *testing.T) {
	eachDialect(t, testConcurrentIndexers)
}

func testConcurrentIndexers(t *testing.T, loc string) {
	dir := t.TempDir()
	writePhotos(t, dir, manyPhotos(60))
	d := &fakeDescriber{delay: 5 * time.Millisecond}
	var wg sync.WaitGroup
	reps := make([]Report, 3)
	for i := range reps {
		s := openTest(t, loc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i] = index(t, s, d, dir)
		}()
	}
	wg.Wait()
	// An indexer that starts after another has failed a photo lists it
	// too, without describing it again: failures count once by path.
	total, added := 0, 0
	failed := map[string]bool{}
	for _, r := range reps {
		total += r.Described
		added += r.Added
		for _, b := range r.Failed {
			failed[b.Path] = true
		}
	}
	total += len(failed)
	if total != 60 || len(d.calls) != 60 || added != 60 {
		t.Fatalf("%d described by %d indexers (%v), %d photos seen, want 60", total, len(reps), reps, len(d.calls))
	}
	for p, n := range d.calls {
		if n != 1 {
			t.Errorf("%s described %d times", p, n)
		}
	}
	if reps[0].Described == 60 || reps[1].Described == 60 {
		t.Logf("one indexer took all the work: %v", reps)
	}
	var claimed int
	openTest(t, loc).DB.QueryRow(`SELECT count(*) FROM photos WHERE claimed_by <> ''`).Scan(&claimed)
	if claimed != 0 {
		t.Errorf("%d claims left after the runs", claimed)
	}
}

// TestKillMidIndex kills an indexing process (SIGKILL) in the middle of its
// work, reruns, and compares the library with an uninterrupted run's.
func TestKillMidIndex(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		writePhotos(t, dir, manyPhotos(40))
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIndexProcess$")
		cmd.Env = append(os.Environ(), "STARID_LIB_HELPER_DB="+loc, "STARID_LIB_HELPER_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s := openTestWhenReady(t, loc)
		deadline := time.Now().Add(20 * time.Second)
		for {
			var n int
			s.DB.QueryRow(`SELECT count(*) FROM photos WHERE status <> 'pending'`).Scan(&n)
			if n >= 8 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		var done int
		s.DB.QueryRow(`SELECT count(*) FROM photos WHERE status <> 'pending'`).Scan(&done)
		if done == 40 {
			t.Fatal("the helper finished before it was killed: the test shows nothing")
		}
		rep := index(t, s, &fakeDescriber{}, dir)
		if rep.Described+rep.Bad+done != 40 {
			t.Errorf("rerun described %d after %d were done", rep.Described, done)
		}
		ref := openTest(t, filepath.Join(t.TempDir(), "ref.db"))
		index(t, ref, &fakeDescriber{}, dir)
		if got, want := dump(t, s), dump(t, ref); !slices.Equal(got, want) {
			t.Fatalf("after kill and rerun, %d rows differ from an uninterrupted run's %d:\n%v\n%v", len(got), len(want), got, want)
		}
	})
}

// openTestWhenReady opens the library once the helper process created it.
func openTestWhenReady(t *testing.T, loc string) *Store {
	for range 200 {
		if !IsPostgres(loc) {
			if _, err := os.Stat(loc); err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		break
	}
	return openTest(t, loc)
}

// TestHelperIndexProcess is the process TestKillMidIndex kills.
func TestHelperIndexProcess(t *testing.T) {
	loc := os.Getenv("STARID_LIB_HELPER_DB")
	if loc == "" {
		t.Skip("helper process for TestKillMidIndex")
	}
	s, err := Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	delay, err := strconv.Atoi(os.Getenv("STARID_LIB_HELPER_DELAY_MS"))
	if err != nil {
		delay = 30
	}
	ix := &Indexer{Store: s, Describer: &fakeDescriber{delay: time.Duration(delay) * time.Millisecond}, Pipeline: "test-1", Workers: 2}
	rep, err := ix.Index(context.Background(), []string{os.Getenv("STARID_LIB_HELPER_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("REPORT %d %d\n", rep.Described, rep.Bad)
}

// TestRunNamesAreOnePerson indexes photos a run named with three indexers
// at once: each name becomes one person, however the photos were shared
// out, and grouping adds the unnamed faces of those people to them.
func TestRunNamesAreOnePerson(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		photos := map[string]string{}
		for i := range 30 {
			name := []string{"Ann", "Bob"}[i%2]
			photos[fmt.Sprintf("p%02d.jpg", i)] = fmt.Sprintf("face %d %d %s", i%2, i, name)
		}
		photos["unnamed.jpg"] = "face 0 99"
		writePhotos(t, dir, photos)
		var wg sync.WaitGroup
		for range 3 {
			s := openTest(t, loc)
			wg.Add(1)
			go func() {
				defer wg.Done()
				index(t, s, &fakeDescriber{delay: time.Millisecond}, dir)
			}()
		}
		wg.Wait()
		s := openTest(t, loc)
		group(t, s, false)
		ps, err := s.People(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].Name != "Ann" || ps[1].Name != "Bob" || len(ps[0].Faces) != 16 || len(ps[1].Faces) != 15 {
			for _, p := range ps {
				t.Logf("person %d %q: %d faces", p.ID, p.Name, len(p.Faces))
			}
			t.Fatalf("%d people, want Ann with 16 faces (one unnamed) and Bob with 15", len(ps))
		}
	})
}

// TestIndexReportsWhatTheWalkCannotFollow: a link named like a photo that
// leads nowhere, and a folder that cannot be read, are this run's
// failures with their path and reason, not silently left out; a link to
// a photo is indexed as the photo.
func TestIndexReportsWhatTheWalkCannotFollow(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	dir := t.TempDir()
	writePhotos(t, dir, manyPhotos(3))
	if err := os.Symlink(filepath.Join(dir, "nowhere.jpg"), filepath.Join(dir, "dangling.jpg")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "set0", "p000.jpg"), filepath.Join(dir, "linked.jpg")); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	writePhotos(t, locked, map[string]string{"a.jpg": "face 9 1\n"})
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	canRead := false
	if _, err := os.ReadDir(locked); err == nil {
		canRead = true // root reads any folder; visit's own test covers it
	}
	rep := index(t, s, &fakeDescriber{}, dir)
	if rep.Seen != 4+btoi(canRead) || rep.Described != 4+btoi(canRead) {
		t.Errorf("the link to a photo should be indexed: %+v", rep)
	}
	want := []string{filepath.Join(dir, "dangling.jpg") + ": broken link to " + filepath.Join(dir, "nowhere.jpg") + ": no such file or directory"}
	if !canRead {
		want = append(want, locked+": unreadable folder: permission denied")
	}
	var got []string
	for _, f := range rep.Failed {
		got = append(got, f.Path+": "+f.Error)
	}
	if !slices.Equal(got, want) {
		t.Errorf("failed:\n%q\nwant\n%q", got, want)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestVisitReportsUnreadableFolders covers what a folder the walk cannot
// list gives, whoever runs the tests (root can read a folder of mode 0).
func TestVisitReportsUnreadableFolders(t *testing.T) {
	err := &fs.PathError{Op: "open", Path: "/photos/locked", Err: fs.ErrPermission}
	f, bad, stop := visit("/photos/locked", nil, err, false)
	if f != nil || stop != nil || bad == nil || *bad != (BadPhoto{Path: "/photos/locked", Error: "unreadable folder: permission denied"}) {
		t.Errorf("unreadable subfolder: %v %+v %v", f, bad, stop)
	}
	if _, _, stop := visit("/photos", nil, err, true); stop != err {
		t.Errorf("an unreadable root must stop the run: %v", stop)
	}
}
