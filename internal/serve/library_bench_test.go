package serve

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/library"
)

// manyFaces finds one face of one of 50 people in any photo, its variant
// drawn at random, so every upload adds a face near an existing group.
type manyFaces struct{}

func (manyFaces) Faces(img *faces.Image) ([]faces.Face, error) {
	p, v := rand.IntN(50), rand.IntN(1_000_000)
	return []faces.Face{{Detection: faces.Detection{Box: faces.Box{X: 1, Y: 1, W: 10, H: 10}, Score: 0.9},
		Descriptor: personDescriptor(p, v)}}, nil
}

// benchLibrary is a server on a SQLite library already holding n faces.
func benchLibrary(b *testing.B, n int) *httptest.Server {
	b.Helper()
	ctx := context.Background()
	st, err := library.Open(ctx, filepath.Join(b.TempDir(), "lib.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	seedFaces(b, st, n)
	if _, err := st.Group(ctx, library.GroupOptions{}); err != nil {
		b.Fatal(err)
	}
	_, ts, _ := newTest(b, &fakeRecognizer{info: testInfo}, Options{
		Library: &Library{Store: st, Finder: manyFaces{}, Pipeline: "test-1", Uploads: b.TempDir()}})
	return ts
}

// seedFaces stores n faces of 50 people, one photo each, in one
// transaction straight into the tables (AddPhoto's transaction per photo
// would make seeding the benchmark's slowest part).
func seedFaces(b *testing.B, st *library.Store, n int) {
	tx, err := st.DB.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := range n {
		var photo int64
		err := tx.QueryRow(`INSERT INTO photos (path, hash, size, mtime, status, pipeline) VALUES (?, ?, 1, 1, 'done', 'test-1') RETURNING id`,
			fmt.Sprintf("/seed/%d.jpg", i), fmt.Sprint(i)).Scan(&photo)
		if err != nil {
			b.Fatal(err)
		}
		d := personDescriptor(i%50, i)
		blob := make([]byte, 4*len(d))
		for j, v := range d {
			binary.LittleEndian.PutUint32(blob[4*j:], math.Float32bits(v))
		}
		if _, err := tx.Exec(`INSERT INTO faces (photo_id, x, y, w, h, descriptor, score, quality) VALUES (?, 1, 1, 10, 10, ?, 1, 1)`,
			photo, blob); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLibraryUpload is the library's share of an upload (keep the
// file, store the photo and its face, place the face in a group) beside
// libraries of 2,000 and 20,000 faces; the face pipeline is a fake here.
// Placing reads only the new rows into the server's gallery snapshot, so
// the cost should barely grow with the library (calling the library's
// Group instead read every descriptor: 111 ms and 952 ms).
func BenchmarkLibraryUpload(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprintf("faces=%d", n), func(b *testing.B) { benchUpload(b, n) })
	}
}

func benchUpload(b *testing.B, n int) {
	ts := benchLibrary(b, n)
	photos := make([][]byte, 64)
	for i := range photos {
		photos[i] = pngBytes(b, 40+i, 30)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// New content each time, or the upload is recognized as known.
		body := append(append([]byte{}, photos[i%len(photos)]...), fmt.Sprint(i)...)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+strings.TrimSuffix(pathLibPhotos, "/"), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "image/png")
		if r := do(b, req); r.status != 200 {
			b.Fatalf("%d %s", r.status, r.body)
		}
	}
}

// BenchmarkPeopleList is GET /api/v1/people (its first page) over
// libraries of 2,000 and 20,000 faces in 50 groups: the page reads the
// people's counts and 12 faces of each, not every face.
func BenchmarkPeopleList(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		b.Run(fmt.Sprintf("faces=%d", n), func(b *testing.B) {
			ts := benchLibrary(b, n)
			for b.Loop() {
				if r := get(b, ts.URL+pathPeople); r.status != 200 {
					b.Fatal(r.status)
				}
			}
		})
	}
}

// BenchmarkSearchPerson is GET /api/v1/search?person= over 2,000 faces.
func BenchmarkSearchPerson(b *testing.B) {
	ts := benchLibrary(b, 2000)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+pathPerson+"1/name", strings.NewReader(`{"name":"Ann"}`))
	req.Header.Set("Content-Type", "application/json")
	if r := do(b, req); r.status != 200 {
		b.Fatal(r.status, string(r.body))
	}
	for b.Loop() {
		if r := get(b, ts.URL+pathSearch+"?person=Ann&top=50"); r.status != 200 {
			b.Fatal(r.status)
		}
	}
}
