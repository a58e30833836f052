package library

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// truth is each face's true person in manyPhotos, read from the fake
// photo text through the stored descriptor's photo.
func peopleByTruth(t *testing.T, s *Store) map[int64]map[int]int {
	t.Helper()
	ps, err := s.People(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[int]int{}
	for _, p := range ps {
		out[p.ID] = map[int]int{}
		for _, f := range p.Faces {
			out[p.ID][truthOf(t, s, f.ID)]++
		}
	}
	return out
}

// truthOf finds the fake person whose centre a face is nearest.
func truthOf(t *testing.T, s *Store, face int64) int {
	var blob []byte
	if err := s.DB.QueryRow(s.q(`SELECT descriptor FROM faces WHERE id = ?`), face).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	d, _ := blobFloats(blob, nil)
	best, bestD := -1, 1e9
	for p := range 5 {
		if dist := distance(d, personDescriptor(p, 0, 0)); dist < bestD {
			best, bestD = p, dist
		}
	}
	return best
}

func distance(a, b []float32) float64 {
	v, _ := Verify(a, b, 1)
	return v.Distance
}

func personOfFace(t *testing.T, s *Store, face int64) (int64, string) {
	var person int64
	var source string
	if err := s.DB.QueryRow(s.q(`SELECT coalesce(person_id, 0), source FROM assignments WHERE face_id = ?`), face).Scan(&person, &source); err != nil {
		t.Fatalf("face %d: %v", face, err)
	}
	return person, source
}

// groupedLibrary is a new SQLite library of n generated photos, indexed and
// grouped.
func groupedLibrary(t *testing.T, n int) *Store {
	t.Helper()
	s := openTest(t, filepath.Join(t.TempDir(), "lib.db"))
	indexPhotos(t, s, n)
	group(t, s, false)
	return s
}

func group(t *testing.T, s *Store, full bool) GroupReport {
	t.Helper()
	rep, err := s.Group(context.Background(), GroupOptions{Full: full, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestGroupingAndUserDecisions(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		s := openTest(t, loc)
		dir := indexPhotos(t, s, 30)
		group(t, s, false)
		groups := peopleByTruth(t, s)
		if len(groups) != 5 {
			t.Fatalf("%d groups, want 5: %v", len(groups), groups)
		}
		for id, g := range groups {
			if len(g) != 1 {
				t.Fatalf("person %d mixes people %v", id, g)
			}
		}
		ps, _ := s.People(ctx)
		ann, bob, cy := ps[0], ps[1], ps[2]
		if err := s.Name(ctx, ann.ID, "Ann"); err != nil {
			t.Fatal(err)
		}
		if err := s.Merge(ctx, bob.ID, cy.ID); err != nil {
			t.Fatal(err)
		}
		split, err := s.Split(ctx, ann.Faces[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		forgotten := ann.Faces[1].ID
		if err := s.Forget(ctx, forgotten); err != nil {
			t.Fatal(err)
		}
		checkDecisions := func(when string) {
			t.Helper()
			if p, src := personOfFace(t, s, ann.Faces[0].ID); p != split || src != SourceSplit {
				t.Fatalf("%s: split face with person %d (%s), want %d", when, p, src, split)
			}
			if p, src := personOfFace(t, s, forgotten); p != 0 || src != SourceForgotten {
				t.Fatalf("%s: forgotten face with person %d (%s)", when, p, src)
			}
			for _, f := range ann.Faces[2:] {
				if p, src := personOfFace(t, s, f.ID); p != ann.ID || src != SourceNamed {
					t.Fatalf("%s: Ann's face %d with person %d (%s)", when, f.ID, p, src)
				}
			}
			for _, f := range append(append([]PersonFace{}, bob.Faces...), cy.Faces...) {
				if p, _ := personOfFace(t, s, f.ID); p != bob.ID {
					t.Fatalf("%s: merged face %d with person %d, want %d", when, f.ID, p, bob.ID)
				}
			}
		}
		checkDecisions("after the decisions")
		group(t, s, true)
		checkDecisions("after a full regrouping")
		// New photos of Ann join her; the decisions still hold.
		writePhotos(t, dir, map[string]string{"new/a1.jpg": "face 0 901", "new/a2.jpg": "face 0 902"})
		index(t, s, &fakeDescriber{}, dir)
		if rep := group(t, s, false); rep.Moved != 2 || rep.NewPeople != 0 {
			t.Fatalf("incremental grouping of two new faces of Ann: %+v", rep)
		}
		for _, f := range faceIDs(t, s, filepath.Join(dir, "new/a1.jpg")) {
			if p, src := personOfFace(t, s, f); p != ann.ID || src != SourceAuto {
				t.Fatalf("new face of Ann went to person %d (%s)", p, src)
			}
		}
		checkDecisions("after new photos")
		// Naming a second group with a taken name merges it in.
		ps, _ = s.People(ctx)
		var other int64
		for _, p := range ps {
			if p.Name == "" && p.ID != split {
				other = p.ID
			}
		}
		if err := s.Name(ctx, other, "Ann"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PersonByName(ctx, "Ann"); err != nil {
			t.Fatal(err)
		}
		if err := s.Merge(ctx, ann.ID, 99999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("merging with a missing person: %v", err)
		}
		if err := s.Forget(ctx, 99999); !errors.Is(err, ErrNotFound) {
			t.Fatalf("forgetting a missing face: %v", err)
		}
	})
}

func TestSearchAndVerify(t *testing.T) {
	ctx := context.Background()
	s := groupedLibrary(t, 30)
	g, err := s.LoadGallery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms := g.Like(personDescriptor(2, 5000, 0.02), 4)
	if err := s.Resolve(ctx, ms); err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if truthOf(t, s, m.FaceID) != 2 || m.Photo == "" || m.PersonID == 0 {
			t.Fatalf("match %d: %+v", i, m)
		}
		if i > 0 && m.Distance < ms[i-1].Distance {
			t.Fatalf("matches out of order: %+v", ms)
		}
	}
	if err := s.Name(ctx, ms[0].PersonID, "Dee"); err != nil {
		t.Fatal(err)
	}
	ms, err = s.SearchPerson(ctx, g, "Dee", 3)
	if err != nil || len(ms) != 3 {
		t.Fatalf("search Dee: %v, %v", ms, err)
	}
	s.Resolve(ctx, ms)
	for _, m := range ms {
		if m.Person != "Dee" {
			t.Fatalf("search Dee found %+v", m)
		}
	}
	if _, err := s.SearchPerson(ctx, g, "Nobody", 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("search for an unknown name: %v", err)
	}
	same, _ := Verify(personDescriptor(1, 1, 0.02), personDescriptor(1, 2, 0.02), 0)
	diff, _ := Verify(personDescriptor(1, 1, 0.02), personDescriptor(3, 2, 0.02), 0)
	if !same.Same || diff.Same || same.Threshold != SameThreshold {
		t.Fatalf("verify: same %+v, different %+v", same, diff)
	}
	if _, err := Verify(make([]float32, 3), make([]float32, 128), 0); err == nil || !strings.Contains(err.Error(), "128") {
		t.Fatalf("short descriptor: %v", err)
	}
}

// TestConcurrentGroupingOnePeopleSet groups from two servers at once on
// PostgreSQL: they take turns, so the new faces get one set of people.
func TestConcurrentGroupingOnePeopleSet(t *testing.T) {
	loc := postgresLocation(t)
	a, b := openTest(t, loc), openTest(t, loc)
	indexPhotos(t, a, 30)
	errs := make(chan error, 2)
	reps := make([]GroupReport, 2)
	for i, s := range []*Store{a, b} {
		go func() {
			var err error
			reps[i], err = s.Group(context.Background(), GroupOptions{Seed: 1})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// Without turns both would make 5 people and the later one's would
	// replace the earlier's: the same count in the end, but people
	// renumbered under a user's eyes.
	if made := reps[0].NewPeople + reps[1].NewPeople; made != 5 {
		t.Fatalf("the two groupings made %d people (%+v), want 5 in all", made, reps)
	}
	var people, unassigned int
	a.DB.QueryRow(`SELECT count(*) FROM people`).Scan(&people)
	a.DB.QueryRow(`SELECT count(*) FROM faces WHERE id NOT IN (SELECT face_id FROM assignments)`).Scan(&unassigned)
	if people != 5 || unassigned != 0 {
		t.Fatalf("two groupings at once left %d people and %d faces without one, want 5 and 0", people, unassigned)
	}
}
