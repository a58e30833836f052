package library

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOpenAFolder: a --db that is a folder is refused naming it, with a
// file path to give instead, and nothing is created inside it.
func TestOpenAFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), dir+": a folder") || !strings.Contains(err.Error(), filepath.Join(dir, "library.db")) {
		t.Fatalf("Open(folder): %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open left %d files in the folder", len(entries))
	}
}

// immutable makes path unwritable even for root (chattr +i), or skips.
func immutable(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Close()
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only for this user: %v %s", path, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	}
}

// TestReadOnlyLibrary: a library file that cannot be written still
// answers reads; a write fails with ErrReadOnly, saying so, and the
// library is left as it was.
func TestReadOnlyLibrary(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "lib.db")
	photos := t.TempDir()
	writePhotos(t, photos, manyPhotos(4))
	s := openTest(t, loc)
	index(t, s, &fakeDescriber{}, photos)
	if _, err := s.Group(context.Background(), GroupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := dump(t, openTest(t, loc))
	immutable(t, loc)

	s = openTest(t, loc)
	ps, err := s.People(context.Background())
	if err != nil || len(ps) == 0 {
		t.Fatalf("reading a read-only library: %d people, %v", len(ps), err)
	}
	writePhotos(t, photos, map[string]string{"new.jpg": "face 7 1\n"})
	ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: "test-1"}
	_, err = ix.Index(context.Background(), []string{photos})
	if err = Explain(err); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("indexing into a read-only library: %v", err)
	}
	if err := Explain(s.Name(context.Background(), ps[0].ID, "Ann")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("naming in a read-only library: %v", err)
	}
	if after := dump(t, s); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the read-only library changed:\n%v\n%v", after, before)
	}
}

// TestConcurrentIndexProcesses runs four index processes at once on one
// new SQLite file (each migrating it, scanning, claiming and writing,
// with describing nearly free so the writes contend): every process
// succeeds (SQLITE_BUSY is waited out or retried, not returned), each
// photo is described by exactly one of them, and the library equals an
// uninterrupted single run's.
func TestConcurrentIndexProcesses(t *testing.T) {
	dir := t.TempDir()
	writePhotos(t, dir, manyPhotos(240))
	loc := filepath.Join(t.TempDir(), "lib.db")
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperIndexProcess$")
		cmd.Env = append(os.Environ(), "STARID_LIB_HELPER_DB="+loc, "STARID_LIB_HELPER_DIR="+dir, "STARID_LIB_HELPER_DELAY_MS=0")
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	total := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("indexer %d: %v\n%s", i, err, outs[i])
			continue
		}
		var described, bad int
		if _, err := fmt.Sscanf(outs[i].String()[strings.Index(outs[i].String(), "REPORT"):], "REPORT %d %d", &described, &bad); err != nil {
			t.Fatalf("indexer %d: %v\n%s", i, err, outs[i])
		}
		total += described + bad
	}
	if total != 240 {
		t.Errorf("the four indexers described %d photos, want each of the 240 once", total)
	}
	s := openTest(t, loc)
	ref := openTest(t, filepath.Join(t.TempDir(), "ref.db"))
	index(t, ref, &fakeDescriber{}, dir)
	if got, want := dump(t, s), dump(t, ref); !slices.Equal(got, want) {
		t.Fatalf("%d rows after concurrent runs, an uninterrupted run has %d", len(got), len(want))
	}
}

// TestPasswordNeverInMessages: a PostgreSQL URL's password is hidden in
// the errors of a library that cannot be reached (and in Store.Source,
// which every message and the server's errors use).
func TestPasswordNeverInMessages(t *testing.T) {
	_, err := Open(context.Background(), "postgres://ann:s3cr3t@127.0.0.1:1/photos?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), "ann:xxxxx@") {
		t.Errorf("unreachable library: %v", err)
	}
	if got := redact("postgres://ann:s3cr3t@db/photos"); strings.Contains(got, "s3cr3t") {
		t.Errorf("redact: %s", got)
	}
}

// TestSearchHugeTop: a --top far beyond the library (up to the largest
// int) gives every photo once, not an overflowed count or a panic.
func TestSearchHugeTop(t *testing.T) {
	s := peopleLibrary(t, filepath.Join(t.TempDir(), "lib.db"), 12)
	for top, want := range map[int]int{7: 7, 1 << 40: 12, math.MaxInt/4 - 3: 12, math.MaxInt: 12} {
		ms, err := SearchPhotos(context.Background(), s, SearchOptions{Person: "alice", Top: top})
		if err != nil || len(ms) != want {
			t.Errorf("top %d: %d photos, %v", top, len(ms), err)
		}
	}
}

// TestIndexLinkedRoot: a folder given as a link to it is indexed, its
// photos under the link's path (WalkDir alone takes the link for a file).
func TestIndexLinkedRoot(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	real := t.TempDir()
	writePhotos(t, real, manyPhotos(3))
	link := filepath.Join(t.TempDir(), "photos")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	rep := index(t, s, &fakeDescriber{}, link)
	if rep.Seen != 3 || rep.Described != 3 {
		t.Fatalf("a linked folder: %+v", rep)
	}
	if rep := index(t, s, &fakeDescriber{}, link); rep.Unchanged != 3 || rep.Removed != 0 {
		t.Fatalf("the linked folder again: %+v", rep)
	}
	var path string
	s.DB.QueryRow(`SELECT path FROM photos ORDER BY path LIMIT 1`).Scan(&path)
	if !strings.HasPrefix(path, link+string(filepath.Separator)) {
		t.Errorf("stored as %s, want under %s", path, link)
	}
}

// TestNonUTF8FileName: a photo whose name is not UTF-8 (a camera card
// written on another system) is indexed on SQLite, and on PostgreSQL,
// whose text columns refuse such bytes, it is listed as failed, saying
// why, while the rest of the folder is indexed; it does not stop the run.
func TestNonUTF8FileName(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		odd := "bad\xffname.jpg"
		writePhotos(t, dir, map[string]string{"good.jpg": "face 1 1", odd: "face 2 2"})
		s := openTest(t, loc)
		ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: "test-1", Workers: 2}
		rep, err := ix.Index(context.Background(), []string{dir})
		if err != nil {
			t.Fatalf("Index stopped: %v", err)
		}
		if got := len(faceIDs(t, s, filepath.Join(dir, "good.jpg"))); got != 1 {
			t.Errorf("good.jpg has %d faces, want 1", got)
		}
		if s.Dialect == Postgres {
			if len(rep.Failed) != 1 || rep.Failed[0].Path != filepath.Join(dir, odd) || !strings.Contains(rep.Failed[0].Error, "UTF-8") {
				t.Errorf("failed = %+v, want %q listed as not UTF-8", rep.Failed, odd)
			}
			return
		}
		if len(rep.Failed) != 0 || len(faceIDs(t, s, filepath.Join(dir, odd))) != 1 {
			t.Errorf("SQLite: failed = %+v; the odd name should be indexed", rep.Failed)
		}
	})
}

// peopleView is the library's people as a user sees them, without ids
// (which re-describing renews): each person's name, and the photo and box
// of each face, sorted.
func peopleView(t *testing.T, s *Store) []string {
	t.Helper()
	ps, err := s.People(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var view []string
	for _, p := range ps {
		var fs []string
		for _, f := range p.Faces {
			fs = append(fs, fmt.Sprintf("%s@%g/%s", filepath.Base(f.Photo), f.Box[0], f.Source))
		}
		slices.Sort(fs)
		view = append(view, p.Name+": "+strings.Join(fs, " "))
	}
	slices.Sort(view)
	return view
}

// TestDecisionsSurviveRedescribing: a person named, two merged, a face
// split off and one forgotten stay so when every photo is described again
// (a new face pipeline, or index --detector with another detector): the
// new faces in the same places take the old faces' decisions, where
// before the names and corrections were silently lost.
func TestDecisionsSurviveRedescribing(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		dir := t.TempDir()
		writePhotos(t, dir, manyPhotos(20))
		s := openTest(t, loc)
		indexAs := func(version string) {
			ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: version, Workers: 2}
			if _, err := ix.Index(ctx, []string{dir}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Group(ctx, GroupOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		indexAs("test-1")
		ps, err := s.People(ctx)
		if err != nil || len(ps) < 4 {
			t.Fatalf("%d people, %v", len(ps), err)
		}
		steps := []error{s.Name(ctx, ps[0].ID, "Ann"), s.Merge(ctx, ps[0].ID, ps[1].ID), s.Forget(ctx, ps[2].Faces[0].ID)}
		_, err = s.Split(ctx, ps[3].Faces[1].ID)
		if err := errors.Join(append(steps, err)...); err != nil {
			t.Fatal(err)
		}
		before := peopleView(t, s)
		indexAs("test-2")
		if after := peopleView(t, s); !slices.Equal(before, after) {
			t.Errorf("people changed by re-describing:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// TestLookAlikeNames: naming a person "jim carrey" when another is "Jim
// Carrey" is refused naming that person (before, the library silently
// kept two people for one), as is naming a face so; the exact name still
// merges, and a person's own name can be re-spelt.
func TestLookAlikeNames(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		dir := t.TempDir()
		writePhotos(t, dir, manyPhotos(10))
		s := openTest(t, loc)
		index(t, s, &fakeDescriber{}, dir)
		if _, err := s.Group(ctx, GroupOptions{}); err != nil {
			t.Fatal(err)
		}
		ps, err := s.People(ctx)
		if err != nil || len(ps) < 3 {
			t.Fatalf("%d people, %v", len(ps), err)
		}
		if err := s.Name(ctx, ps[0].ID, "Jim Carrey"); err != nil {
			t.Fatal(err)
		}
		var la *LookAlikeError
		for _, typed := range []string{"jim carrey", "JimCarrey", "jim_carrey"} {
			err := s.Name(ctx, ps[1].ID, typed)
			if !errors.As(err, &la) || la.Person != ps[0].ID || !strings.Contains(err.Error(), `"Jim Carrey"`) {
				t.Errorf("naming %q beside \"Jim Carrey\": %v", typed, err)
			}
		}
		if _, err := s.NameFace(ctx, ps[2].Faces[0].ID, "JIM CARREY"); !errors.As(err, &la) {
			t.Errorf("naming a face \"JIM CARREY\": %v", err)
		}
		if err := s.Name(ctx, ps[0].ID, "Jim  Carrey"); err != nil {
			t.Errorf("re-spelling a person's own name: %v", err)
		}
		if err := s.Name(ctx, ps[1].ID, "Jim  Carrey"); err != nil {
			t.Errorf("the exact name merges: %v", err)
		}
		if after, _ := s.People(ctx); len(after) != len(ps)-1 {
			t.Errorf("%d people after the merge, want %d", len(after), len(ps)-1)
		}
		// Searching takes the name as typed: "jim carrey" finds Jim
		// Carrey's photos rather than "no person named".
		g, err := s.LoadGallery(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.SearchPerson(ctx, g, "Jim  Carrey", 5)
		if err != nil || len(want) == 0 {
			t.Fatalf("search by the exact name: %v, %v", want, err)
		}
		for _, typed := range []string{"jim carrey", "JIM CARREY", "Jim Carrey"} {
			if got, err := s.SearchPerson(ctx, g, typed, 5); err != nil || !slices.Equal(got, want) {
				t.Errorf("search %q: %v, %v; want %v", typed, got, err, want)
			}
		}
	})
}

// TestVerifyGroupPhoto: verify against a group photo compares its main
// face only, and says so (the JSON counts each photo's faces, the text
// names the photo): a user asking "is she in this photo?" otherwise read
// "different people" as "no".
func TestVerifyGroupPhoto(t *testing.T) {
	dir := t.TempDir()
	writePhotos(t, dir, map[string]string{"one.jpg": "face 1 1", "group.jpg": "face 1 2\nface 2 3\nface 3 4"})
	v, err := VerifyPhotos(context.Background(), &fakeDescriber{}, filepath.Join(dir, "one.jpg"), filepath.Join(dir, "group.jpg"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v.Faces != [2]int{1, 3} {
		t.Errorf("faces counted %v, want [1 3]", v.Faces)
	}
	var b strings.Builder
	v.WriteText(&b)
	if !strings.Contains(b.String(), "the second photo has 3 faces") {
		t.Errorf("text %q does not say the second photo is a group", b.String())
	}
	v.Faces = [2]int{1, 1}
	b.Reset()
	v.WriteText(&b)
	if strings.Contains(b.String(), "faces") {
		t.Errorf("text %q mentions faces for two portraits", b.String())
	}
}

// TestIndexSummaryOnePerson: the summary of a library of one person says
// "1 person (1 new)", not "1 people".
func TestIndexSummaryOnePerson(t *testing.T) {
	var out, errs strings.Builder
	(&IndexResult{Library: "x.db", Seen: 1, Added: 1, Described: 1, Faces: 1, People: 1, NewPeople: 1}).WriteText(&out, &errs)
	if !strings.Contains(out.String(), "; 1 person (1 new)") {
		t.Errorf("summary %q", out.String())
	}
}

// TestIndexManyWorkers: --workers far beyond the cores (500 here) indexes
// as many do: before, each worker opened its own PostgreSQL connection and
// the run died on "too many clients" or a full socket backlog, and on
// SQLite as many photos were decoded at once as there were workers.
func TestIndexManyWorkers(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		dir := t.TempDir()
		writePhotos(t, dir, manyPhotos(30))
		s := openTest(t, loc)
		ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: "test-1", Workers: 500}
		rep, err := ix.Index(context.Background(), []string{dir})
		if err != nil {
			t.Fatalf("500 workers: %v", err)
		}
		// manyPhotos' photo 11 is not a photo.
		if rep.Described+len(rep.Failed) != 30 || len(rep.Failed) != 1 {
			t.Errorf("described %d and failed %d of 30", rep.Described, len(rep.Failed))
		}
	})
}

// TestIndexOverlappingRoots: a folder given twice, or with a photo inside
// it given too, counts each photo once ("13 photos (6 new)" for six).
func TestIndexOverlappingRoots(t *testing.T) {
	dir := t.TempDir()
	writePhotos(t, dir, map[string]string{"a.jpg": "face 1 1", "b.jpg": "face 2 2"})
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	rep := index(t, s, &fakeDescriber{}, dir, dir+string(filepath.Separator), filepath.Join(dir, "a.jpg"))
	if rep.Seen != 2 || rep.Added != 2 || rep.Described != 2 {
		t.Errorf("seen %d, added %d, described %d; want 2 each", rep.Seen, rep.Added, rep.Described)
	}
}

// TestIndexNotAPhotoGiven: a file named on the command line that is not
// a photo (notes.txt, /dev/null) is listed as failed, saying why; before,
// the run said "0 photos" and exited 0, as if the file had been indexed.
func TestIndexNotAPhotoGiven(t *testing.T) {
	dir := t.TempDir()
	writePhotos(t, dir, map[string]string{"notes.txt": "hello", "a.jpg": "face 1 1"})
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	rep := index(t, s, &fakeDescriber{}, filepath.Join(dir, "notes.txt"), filepath.Join(dir, "a.jpg"))
	if rep.Described != 1 || len(rep.Failed) != 1 || !strings.HasSuffix(rep.Failed[0].Path, "notes.txt") ||
		!strings.Contains(rep.Failed[0].Error, "not a photo") {
		t.Errorf("described %d, failed %+v", rep.Described, rep.Failed)
	}
}

// TestFailedPhotoRetry: a photo that failed on its bytes is not described
// again by a rerun (listed still); one the run could not name is, since
// the run may be fixed since.
func TestFailedPhotoRetry(t *testing.T) {
	dir := t.TempDir()
	writePhotos(t, dir, map[string]string{"bad.jpg": "bad", "a.jpg": "face 1 1"})
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	d := &fakeDescriber{}
	bad := filepath.Join(dir, "bad.jpg")
	index(t, s, d, dir)
	if rep := index(t, s, d, dir); d.calls[bad] != 1 || len(rep.Failed) != 1 || rep.Failed[0].Path != bad {
		t.Errorf("rerun: %d calls, failed %+v", d.calls[bad], rep.Failed)
	}
	if _, err := s.DB.Exec(`UPDATE photos SET error = ? WHERE status = 'bad'`, namingFailed+"the run broke"); err != nil {
		t.Fatal(err)
	}
	if index(t, s, d, dir); d.calls[bad] != 2 {
		t.Errorf("a photo the run could not name was not tried again (%d calls)", d.calls[bad])
	}
}
