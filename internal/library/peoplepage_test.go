package library

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// peopleLibrary stores n people, person p with p%4+1 faces, and names a
// few (names whose byte order differs from a dictionary's).
func peopleLibrary(t *testing.T, loc string, n int) *Store {
	t.Helper()
	s := openTest(t, loc)
	ctx := context.Background()
	for p := range n {
		var fs []Face
		for v := range p%4 + 1 {
			fs = append(fs, Face{Box: [4]float64{float64(10 * v), 5, 40, 40}, Landmarks: make([][2]float32, LandmarkCount),
				Descriptor: personDescriptor(p+1, v, 0.02), Score: 0.9, Quality: 1})
		}
		path := fmt.Sprintf("/photos/p%03d.jpg", p)
		if _, _, err := s.AddPhoto(ctx, path, fmt.Sprintf("%064d", p), 1, 1, "test-1", fs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Group(ctx, GroupOptions{}); err != nil {
		t.Fatal(err)
	}
	ps, err := s.People(ctx)
	if err != nil || len(ps) != n {
		t.Fatalf("%d people, want %d: %v", len(ps), n, err)
	}
	for i, name := range []string{"alice", "Bob", "Émile", "Zoë"} {
		if err := s.Name(ctx, ps[3*i+1].ID, name); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestPeoplePageFollowsPeople: pages of any size, read one after the
// other, give People's list in its order, with each person's first faces.
func TestPeoplePageFollowsPeople(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		s := peopleLibrary(t, loc, 23)
		ctx := context.Background()
		all, err := s.People(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 5, 23, 100} {
			var got []PagePerson
			for off := 0; ; off += limit {
				page, err := s.PeoplePage(ctx, off, limit, 2)
				if err != nil || page.Total != 23 {
					t.Fatalf("page %d+%d: total %d, %v", off, limit, page.Total, err)
				}
				if len(page.People) == 0 {
					break
				}
				got = append(got, page.People...)
			}
			if len(got) != len(all) {
				t.Fatalf("limit %d: %d people paged, want %d", limit, len(got), len(all))
			}
			for i, p := range got {
				want := all[i]
				var ids, wantIDs []int64
				for _, f := range p.Faces {
					ids = append(ids, f.ID)
				}
				for _, f := range want.Faces[:min(2, len(want.Faces))] {
					wantIDs = append(wantIDs, f.ID)
				}
				if p.ID != want.ID || p.Name != want.Name || p.FaceCount != len(want.Faces) || !slices.Equal(ids, wantIDs) {
					t.Fatalf("limit %d, person %d: %+v, want %d %q with %d faces %v", limit, i, p, want.ID, want.Name, len(want.Faces), wantIDs)
				}
			}
		}
		if page, err := s.PeoplePage(ctx, 1000, 10, 2); err != nil || len(page.People) != 0 || page.Total != 23 {
			t.Errorf("a page past the end: %+v, %v", page, err)
		}
		if _, err := s.PeoplePage(ctx, -1, 10, 2); err == nil {
			t.Error("a negative offset: no error")
		}
	})
}
