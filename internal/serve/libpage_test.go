package serve

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"starid/internal/library"
)

// fillPeople stores n one-face people straight into the library.
func fillPeople(t *testing.T, st *library.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for p := range n {
		f := library.Face{Box: [4]float64{1, 2, 30, 30}, Landmarks: make([][2]float32, library.LandmarkCount),
			Descriptor: personDescriptor(p+10, 1), Score: 0.9, Quality: 1}
		if _, _, err := st.AddPhoto(ctx, fmt.Sprintf("/photos/%d.jpg", p), fmt.Sprintf("%064d", p), 1, 1, "test-1", []library.Face{f}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Group(ctx, library.GroupOptions{}); err != nil {
		t.Fatal(err)
	}
}

// fillPerson stores n photos of one person (its faces grouped together).
func fillPerson(t *testing.T, st *library.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for v := range n {
		f := library.Face{Box: [4]float64{1, 2, 30, 30}, Landmarks: make([][2]float32, library.LandmarkCount),
			Descriptor: personDescriptor(7, v), Score: 0.9, Quality: 1}
		if _, _, err := st.AddPhoto(ctx, fmt.Sprintf("/photos/seven-%d.jpg", v), fmt.Sprintf("7%063d", v), 1, 1, "test-1", []library.Face{f}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Group(ctx, library.GroupOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPeoplePages: following next from the first page lists every person
// once; the Link header agrees; the last page has no next.
func TestPeoplePages(t *testing.T) {
	ts, st := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	fillPeople(t, st, 12)
	seen := map[string]bool{}
	url, pages := pathPeople+"?limit=5&faces=1", 0
	for url != "" {
		r := get(t, ts.URL+url)
		page := decodeJSON[peopleResponse](t, r)
		if r.status != 200 || page.Total != 12 || page.Limit != 5 {
			t.Fatalf("GET %s: %d %s", url, r.status, r.body)
		}
		if link := r.header.Get("Link"); (page.Next == "") != (link == "") || (link != "" && link != "<"+page.Next+`>; rel="next"`) {
			t.Errorf("GET %s: Link %q, next %q", url, link, page.Next)
		}
		for _, p := range page.People {
			if seen[p.ID] || len(p.Faces) != 1 || p.Faces[0].PhotoID == "" {
				t.Errorf("person %+v twice or without its face", p)
			}
			seen[p.ID] = true
		}
		url = page.Next
		if pages++; pages > 5 {
			t.Fatal("next never ends")
		}
	}
	if len(seen) != 12 || pages != 3 {
		t.Errorf("%d people in %d pages", len(seen), pages)
	}
	if page := decodeJSON[peopleResponse](t, get(t, ts.URL+pathPeople+"?offset=1000000")); len(page.People) != 0 || page.Next != "" {
		t.Errorf("past the end: %+v", page)
	}
}

// TestPeoplePageRefusals: out-of-range and non-numeric paging is a 400
// naming the parameter, never a 500 or an unbounded answer.
func TestPeoplePageRefusals(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	for _, q := range []string{"limit=0", "limit=501", "limit=-3", "limit=abc", "limit=1.5", "limit=", "offset=-1",
		"offset=1000000001", "offset=99999999999999999999999", "offset=0x10", "faces=101", "faces=1e2", "limit=%00"} {
		r := get(t, ts.URL+pathPeople+"?"+q)
		key, _, _ := strings.Cut(q, "=")
		if q == "limit=" {
			if r.status != 200 { // empty means the default
				t.Errorf("?%s: %d %s", q, r.status, r.body)
			}
			continue
		}
		if e := decodeJSON[errorResponse](t, r); r.status != 400 || !strings.HasPrefix(e.Error, key+" must be") {
			t.Errorf("?%s: %d %s", q, r.status, r.body)
		}
	}
}

// TestReadOnlyLibraryAnswers: a server on a library it cannot write
// still lists people; a write is a 500 that says the library cannot be
// written, without the server's file path.
func TestReadOnlyLibraryAnswers(t *testing.T) {
	loc := sqliteLocation(t)
	ts, st := newLibTest(t, loc, &fakeRecognizer{info: testInfo})
	a := addPhoto(t, ts.URL, 300)
	if _, err := st.DB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	st.Close() // the server opens the file again once it is read-only
	if out, err := exec.Command("chattr", "+i", loc).CombinedOutput(); err != nil {
		t.Skipf("cannot make the library read-only: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", loc).Run() })
	if f, err := os.OpenFile(loc, os.O_WRONLY, 0); err == nil {
		f.Close()
		t.Skip("the library is still writable")
	}
	ts, _ = newLibTest(t, loc, &fakeRecognizer{info: testInfo})
	if ps := people(t, ts.URL); len(ps) != 2 {
		t.Errorf("people of a read-only library: %+v", ps)
	}
	r := postJSON(t, ts.URL+pathFaces+a.Faces[0].ID+"/name", `{"name":"Ann"}`)
	msg := decodeJSON[errorResponse](t, r).Error
	if r.status != 500 || !strings.Contains(msg, "cannot be written") || strings.Contains(msg, loc) {
		t.Errorf("naming in a read-only library: %d %s", r.status, r.body)
	}
}

// TestPersonPhotosPages: a person's photos come a page at a time by photo
// id, next leading through them all; paging is refused as the people's is.
func TestPersonPhotosPages(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	var person string
	for _, w := range []int{320, 330, 350} { // person 2 three times
		person = addPhoto(t, ts.URL, w).Faces[0].PersonID
	}
	var ids []string
	url := pathPerson + person + "/photos?limit=2"
	for pages := 0; url != ""; pages++ {
		r := get(t, ts.URL+url)
		page := decodeJSON[personPhotosResponse](t, r)
		if r.status != 200 || page.Total != 3 || page.PersonID != person || pages > 2 {
			t.Fatalf("GET %s: %d %s", url, r.status, r.body)
		}
		for _, p := range page.Photos {
			ids = append(ids, p.ID)
		}
		url = page.Next
	}
	if strings.Join(ids, ",") != "1,2,3" {
		t.Errorf("photos paged: %v", ids)
	}
	for _, q := range []string{"limit=0", "limit=201", "offset=-1", "offset=x"} {
		if r := get(t, ts.URL+pathPerson+person+"/photos?"+q); r.status != 400 {
			t.Errorf("?%s: %d %s", q, r.status, r.body)
		}
	}
}
