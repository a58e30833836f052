package serve

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/library"
	"starid/internal/library/pgtest"
)

// TestMain stops the PostgreSQL test cluster once every test has run.
func TestMain(m *testing.M) { pgtest.Main(m) }

// A test photo's faces are chosen by its width (fakeFinder.byWidth): each
// face is "person p, variant v", its descriptor near person p's centre and
// its box's x = 100p + v, so the fake model can tell who it is.
type face struct{ person, variant int }

type fakeFinder struct{ byWidth map[int][]face }

func (f fakeFinder) Faces(img *faces.Image) ([]faces.Face, error) {
	var out []faces.Face
	for _, fc := range f.byWidth[img.W] {
		out = append(out, faces.Face{
			Detection:  faces.Detection{Box: faces.Box{X: float64(100*fc.person + fc.variant), Y: 5, W: 40, H: 50}, Score: 0.9},
			Landmarks:  make([]faces.Point, library.LandmarkCount),
			Descriptor: personDescriptor(fc.person, fc.variant),
		})
	}
	return out, nil
}

// personDescriptor is person p's centre (a seeded random vector at
// dlib-like scale) plus a little noise seeded by the variant: faces of one
// person are ~0.2 apart, of two people ~1.4.
func personDescriptor(p, variant int) []float32 {
	centre := rand.New(rand.NewPCG(uint64(p), 7))
	noise := rand.New(rand.NewPCG(uint64(p), uint64(variant)+100))
	d := make([]float32, library.DescriptorSize)
	for i := range d {
		d[i] = float32(centre.NormFloat64()*0.09 + noise.NormFloat64()*0.015)
	}
	return d
}

// namingRecognizer is a model that knows person 1 as Tom Hanks and no one
// else; it names faces found elsewhere (Namer).
type namingRecognizer struct{ fakeRecognizer }

func (n *namingRecognizer) Name(_ context.Context, _ *faces.Image, found []faces.Face) ([]Face, error) {
	out := make([]Face, len(found))
	for i, f := range found {
		out[i] = Face{Box: roundBox(f.Box), Name: "Denzel Washington", Confidence: 0.3, Unknown: true}
		if int(f.Box.X)/100 == 1 {
			out[i] = Face{Box: roundBox(f.Box), Name: "Tom Hanks", Confidence: 0.95,
				Top: []Candidate{{Name: "Tom Hanks", Probability: 0.95}}}
		}
	}
	return out, nil
}

// Photos: width -> faces.
var libPhotos = map[int][]face{
	300: {{1, 1}, {2, 1}}, // Tom Hanks and person 2
	310: {{1, 2}},
	320: {{2, 2}},
	330: {{2, 3}},
	340: {{3, 1}},
	350: {{2, 4}},
	360: {{4, 1}},
}

// newLibTest starts a server on a library at location.
func newLibTest(t *testing.T, location string, rec Recognizer) (*httptest.Server, *library.Store) {
	t.Helper()
	st, err := library.Open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, ts, _ := newTest(t, rec, Options{Library: &Library{Store: st, Finder: fakeFinder{libPhotos},
		Pipeline: "test-1", Uploads: filepath.Join(t.TempDir(), "uploads")}})
	return ts, st
}

func sqliteLocation(t *testing.T) string { return filepath.Join(t.TempDir(), "lib.db") }

func upload(t *testing.T, base, path string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "image/png")
	return do(t, req)
}

func addPhoto(t *testing.T, base string, width int) libraryUploadResponse {
	t.Helper()
	r := upload(t, base, strings.TrimSuffix(pathLibPhotos, "/"), pngBytes(t, width, 80))
	if r.status != 200 {
		t.Fatalf("upload of the %d px photo: %d %s", width, r.status, r.body)
	}
	return decodeJSON[libraryUploadResponse](t, r)
}

func postJSON(t *testing.T, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func people(t *testing.T, base string) []apiPerson {
	t.Helper()
	r := get(t, base+pathPeople)
	if r.status != 200 {
		t.Fatalf("people: %d %s", r.status, r.body)
	}
	return decodeJSON[peopleResponse](t, r).People
}

// personWithFace finds the person holding a face.
func personWithFace(ps []apiPerson, faceID string) *apiPerson {
	for i := range ps {
		for _, f := range ps[i].Faces {
			if f.ID == faceID {
				return &ps[i]
			}
		}
	}
	return nil
}

func TestLibraryUploadNamesAndGroups(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &namingRecognizer{fakeRecognizer{info: testInfo}})
	first := addPhoto(t, ts.URL, 300)
	if len(first.Faces) != 2 || first.Known || first.Width != 300 || first.Height != 80 {
		t.Fatalf("first upload: %+v", first)
	}
	tom, other := first.Faces[0], first.Faces[1]
	if tom.Person != "Tom Hanks" || tom.Recognition == nil || tom.Recognition.Name != "Tom Hanks" {
		t.Errorf("the model's name was not given: %+v", tom)
	}
	if other.Person != "" || other.PersonID == "" || other.Recognition == nil || other.Recognition.Name != UnknownName {
		t.Errorf("an unknown face should get an unnamed person: %+v %+v", other, other.Recognition)
	}
	addPhoto(t, ts.URL, 310)
	second := addPhoto(t, ts.URL, 320)
	if got := second.Faces[0]; got.PersonID != other.PersonID || got.Person != "" {
		t.Errorf("person 2's second face should join the first's group %s: %+v", other.PersonID, got)
	}
	if again := addPhoto(t, ts.URL, 300); !again.Known || again.ID != first.ID || len(again.Faces) != 2 {
		t.Errorf("the same photo again should be known, not added: %+v", again)
	}

	ps := people(t, ts.URL)
	if len(ps) != 2 || ps[0].Name != "Tom Hanks" || ps[0].FaceCount != 2 || ps[1].Name != "" || ps[1].FaceCount != 2 {
		t.Fatalf("people: %+v", ps)
	}
	// Name the unnamed group: its faces carry the name, and a new photo
	// of the person is named by the library.
	if r := postJSON(t, ts.URL+pathPerson+ps[1].ID+"/name", `{"name": "  Meryl Streep "}`); r.status != 200 {
		t.Fatalf("naming: %d %s", r.status, r.body)
	}
	for _, f := range personWithFace(people(t, ts.URL), other.ID).Faces {
		if f.Person != "Meryl Streep" {
			t.Errorf("face %s after naming its group: %q", f.ID, f.Person)
		}
	}
	if got := addPhoto(t, ts.URL, 330).Faces[0]; got.Person != "Meryl Streep" {
		t.Errorf("a new photo of a named person: %+v", got)
	}
}

func TestLibraryNameFaceMergeAndPhotos(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	a := addPhoto(t, ts.URL, 300)
	b := addPhoto(t, ts.URL, 340)
	c := addPhoto(t, ts.URL, 360)
	stranger := b.Faces[0]

	// Name an unknown face right on its photo, then correct a wrong one.
	r := postJSON(t, ts.URL+pathFaces+stranger.ID+"/name", `{"name":"Denzel Washington"}`)
	named := decodeJSON[map[string]string](t, r)
	if r.status != 200 || named["person"] != "Denzel Washington" || named["person_id"] == "" {
		t.Fatalf("naming a face: %d %s", r.status, r.body)
	}
	photo := decodeJSON[apiPhoto](t, get(t, ts.URL+pathLibPhotos+b.ID))
	if len(photo.Faces) != 1 || photo.Faces[0].Person != "Denzel Washington" || photo.Image != photoImageURL(mustID(t, b.ID)) {
		t.Errorf("photo after naming its face: %+v", photo)
	}
	postJSON(t, ts.URL+pathFaces+c.Faces[0].ID+"/name", `{"name":"Tom Hanks"}`)
	if r := postJSON(t, ts.URL+pathFaces+c.Faces[0].ID+"/name", `{"name":"Denzel Washington"}`); r.status != 200 {
		t.Fatalf("correcting a face: %d %s", r.status, r.body)
	}
	denzel := personWithFace(people(t, ts.URL), stranger.ID)
	if denzel == nil || denzel.FaceCount != 2 || personWithFace(people(t, ts.URL), c.Faces[0].ID).ID != denzel.ID {
		t.Fatalf("the corrected face should be Denzel's: %+v", denzel)
	}

	// Merge person 2's group (unnamed) into Denzel.
	from := personWithFace(people(t, ts.URL), a.Faces[1].ID)
	if r := postJSON(t, ts.URL+pathPerson+denzel.ID+"/merge", fmt.Sprintf(`{"from":%q}`, from.ID)); r.status != 200 {
		t.Fatalf("merge: %d %s", r.status, r.body)
	}
	if p := personWithFace(people(t, ts.URL), a.Faces[1].ID); p.ID != denzel.ID || p.FaceCount != 3 {
		t.Errorf("after the merge: %+v", p)
	}
	photos := decodeJSON[struct{ Photos []apiPhoto }](t, get(t, ts.URL+pathPerson+denzel.ID+"/photos")).Photos
	if len(photos) != 3 || photos[0].ID != a.ID || len(photos[0].Faces) != 2 {
		t.Errorf("Denzel's photos: %+v", photos)
	}

	// The photo's file and a face's thumbnail.
	img := get(t, ts.URL+photos[0].Image)
	if img.status != 200 || !bytes.Equal(img.body, pngBytes(t, 300, 80)) || img.header.Get("Content-Type") != "image/png" {
		t.Errorf("photo image: %d %q %d bytes", img.status, img.header.Get("Content-Type"), len(img.body))
	}
	th := get(t, ts.URL+a.Faces[0].Thumb)
	if th.status != 200 || th.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: %d %s", th.status, th.body)
	}
	if m, err := jpeg.Decode(bytes.NewReader(th.body)); err != nil || m.Bounds().Dx() != thumbSide {
		t.Errorf("thumbnail: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+a.Faces[0].Thumb, nil)
	req.Header.Set("If-None-Match", th.header.Get("ETag"))
	if r := do(t, req); th.header.Get("ETag") == "" || r.status != http.StatusNotModified {
		t.Errorf("thumbnail revalidation: ETag %q, %d", th.header.Get("ETag"), r.status)
	}

	// Forget a face: it leaves every person.
	if r := postJSON(t, ts.URL+pathFaces+a.Faces[0].ID+"/forget", ``); r.status != 200 {
		t.Fatalf("forget: %d %s", r.status, r.body)
	}
	if p := personWithFace(people(t, ts.URL), a.Faces[0].ID); p != nil {
		t.Errorf("a forgotten face is still %+v's", p)
	}
}

func mustID(t *testing.T, s string) int64 {
	var id int64
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLibrarySearch(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &namingRecognizer{fakeRecognizer{info: testInfo}})
	for _, w := range []int{300, 310, 320, 330, 340} {
		addPhoto(t, ts.URL, w)
	}
	r := get(t, ts.URL+pathSearch+"?top=3&person="+url.QueryEscape("Tom Hanks"))
	res := decodeJSON[searchResponse](t, r)
	if r.status != 200 || len(res.Matches) != 3 || res.Matches[0].Person != "Tom Hanks" || res.Matches[1].Person != "Tom Hanks" ||
		res.Matches[2].Person == "Tom Hanks" || res.Matches[0].Distance > res.Matches[2].Distance {
		t.Errorf("search Tom Hanks: %d %s", r.status, r.body)
	}
	// Like a photo of person 2 (not in the library itself).
	r = upload(t, ts.URL, pathSearch+"?top=4", pngBytes(t, 350, 60))
	res = decodeJSON[searchResponse](t, r)
	if r.status != 200 || len(res.Matches) != 4 || res.Query == nil || res.Query[0] != 204 {
		t.Fatalf("search like: %d %s", r.status, r.body)
	}
	for _, m := range res.Matches[:3] {
		if m.Box[0]/100 != 2 || m.Distance > library.GroupThreshold {
			t.Errorf("person 2's faces should come first: %+v", res.Matches)
		}
	}
	// A photo without a face, a person nobody has.
	if r := upload(t, ts.URL, pathSearch, pngBytes(t, 20, 20)); r.status != 422 {
		t.Errorf("search like a faceless photo: %d %s", r.status, r.body)
	}
	if r := get(t, ts.URL+pathSearch+"?person=Nobody"); r.status != 404 {
		t.Errorf("search for nobody: %d %s", r.status, r.body)
	}
	if r := get(t, ts.URL+pathSearch+"?person=x&top=0"); r.status != 400 {
		t.Errorf("top=0: %d %s", r.status, r.body)
	}
}

// TestLibraryRefusals: the library endpoints refuse what they cannot
// take with a clear 4xx, as the upload path does.
func TestLibraryRefusals(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	a := addPhoto(t, ts.URL, 300)
	face := pathFaces + a.Faces[0].ID + "/name"
	long := strings.Repeat("é", maxNameRunes+1)
	for _, c := range []struct {
		path, ctype, body string
		want              int
	}{
		{face, "application/json", `{"name":""}`, 400},
		{face, "application/json", `{"name":"unknown"}`, 400},
		{face, "application/json", `{"name":"a\u0007b"}`, 400},
		{face, "application/json", `{"name":"` + long + `"}`, 400},
		{face, "application/json", `{"name":"x","extra":1}`, 400},
		{face, "application/json", `{"name":"x"} {}`, 400},
		{face, "application/json", `{"name":"` + strings.Repeat("x", maxJSONBody) + `"}`, 413},
		{face, "text/plain", `{"name":"x"}`, 415},
		{face, "", `name=x`, 415},
		{pathFaces + "999999/name", "application/json", `{"name":"x"}`, 404},
		{pathFaces + "-1/name", "application/json", `{"name":"x"}`, 404},
		{pathFaces + "abc/name", "application/json", `{"name":"x"}`, 404},
		{pathPerson + "999999/name", "application/json", `{"name":"x"}`, 404},
		{pathPerson + "999999/merge", "application/json", `{"from":"1"}`, 404},
		{pathPerson + "1/merge", "application/json", `{"from":"1"}`, 400},
		{pathPerson + "1/merge", "application/json", `{"from":"x"}`, 400},
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if r := do(t, req); r.status != c.want || decodeJSON[errorResponse](t, r).Error == "" {
			t.Errorf("%s %s %.40s: %d %s, want %d", c.path, c.ctype, c.body, r.status, r.body, c.want)
		}
	}
	for _, p := range []string{pathFaces + "999999/thumb", pathLibPhotos + "999999", pathLibPhotos + "999999/image",
		pathPerson + "999999/photos", pathPeople + "?faces=-1"} {
		if r := get(t, ts.URL+p); r.status/100 != 4 {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	// The guards hold for the library too: another site's page cannot
	// name faces, and a rebinding host name is refused.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+face, strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := do(t, req); r.status != 403 {
		t.Errorf("cross-origin naming: %d %s", r.status, r.body)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL+pathPeople, nil)
	req.Host = "evil.example"
	if r := do(t, req); r.status != 403 {
		t.Errorf("rebinding host: %d %s", r.status, r.body)
	}
	// Uploads to the library keep the upload limits.
	big := upload(t, ts.URL, strings.TrimSuffix(pathLibPhotos, "/"), make([]byte, DefaultMaxBodyBytes+1))
	if big.status != 413 {
		t.Errorf("oversized upload to the library: %d %s", big.status, big.body)
	}
	if r := upload(t, ts.URL, strings.TrimSuffix(pathLibPhotos, "/"), []byte("not a photo at all")); r.status != 415 {
		t.Errorf("not a photo: %d %s", r.status, r.body)
	}
}

func TestNoLibraryAnswers404(t *testing.T) {
	_, ts, _ := newTest(t, &fakeRecognizer{info: testInfo}, Options{})
	for _, p := range []string{pathPeople, pathSearch + "?person=x", pathFaces + "1/thumb", pathLibPhotos + "1"} {
		r := get(t, ts.URL+p)
		if r.status != 404 || !strings.Contains(decodeJSON[errorResponse](t, r).Error, "--db") {
			t.Errorf("GET %s without a library: %d %s", p, r.status, r.body)
		}
	}
	if r := upload(t, ts.URL, strings.TrimSuffix(pathLibPhotos, "/"), pngBytes(t, 30, 30)); r.status != 404 {
		t.Errorf("upload without a library: %d %s", r.status, r.body)
	}
	if m := decodeJSON[modelResponse](t, get(t, ts.URL+pathModel)); m.Library {
		t.Error("model says library without one")
	}
}

// TestLibraryAloneNamesFaces: serve --db without a run names faces after
// the library's named people.
func TestLibraryAloneNamesFaces(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), nil)
	a := addPhoto(t, ts.URL, 300)
	postJSON(t, ts.URL+pathFaces+a.Faces[0].ID+"/name", `{"name":"Tom Hanks"}`)
	r := upload(t, ts.URL, pathRecognize, pngBytes(t, 310, 50))
	rec := decodeJSON[recognizeResponse](t, r)
	if r.status != 200 || len(rec.Faces) != 1 || rec.Faces[0].Name != "Tom Hanks" || rec.Faces[0].Unknown {
		t.Fatalf("recognize from the library: %d %s", r.status, r.body)
	}
	r = upload(t, ts.URL, pathRecognize, pngBytes(t, 340, 50))
	if rec := decodeJSON[recognizeResponse](t, r); len(rec.Faces) != 1 || !rec.Faces[0].Unknown {
		t.Errorf("a stranger: %s", r.body)
	}
	m := decodeJSON[modelResponse](t, get(t, ts.URL+pathModel))
	if m.Kind != "library" || !m.Library || strings.Join(m.Classes, ",") != "Tom Hanks" {
		t.Errorf("model: %+v", m)
	}
}

// TestTwoServersShareNames: two servers on one PostgreSQL library, as on
// two machines: a group named through one is named in the other's
// answers, and a face named through the other names the next upload to
// the first.
func TestTwoServersShareNames(t *testing.T) {
	loc := pgtest.Location(t)
	one, _ := newLibTest(t, loc, &fakeRecognizer{info: testInfo})
	two, _ := newLibTest(t, loc, &fakeRecognizer{info: testInfo})
	a := addPhoto(t, one.URL, 300)
	addPhoto(t, two.URL, 320)
	group := personWithFace(people(t, two.URL), a.Faces[1].ID)
	if group == nil || group.FaceCount != 2 {
		t.Fatalf("the second server should see both uploads in one group: %+v", people(t, two.URL))
	}
	if r := postJSON(t, one.URL+pathPerson+group.ID+"/name", `{"name":"Meryl Streep"}`); r.status != 200 {
		t.Fatalf("naming through one: %d %s", r.status, r.body)
	}
	for _, f := range personWithFace(people(t, two.URL), a.Faces[1].ID).Faces {
		if f.Person != "Meryl Streep" {
			t.Errorf("the other server answers %q for face %s", f.Person, f.ID)
		}
	}
	res := decodeJSON[searchResponse](t, get(t, two.URL+pathSearch+"?top=2&person=Meryl%20Streep"))
	if len(res.Matches) != 2 || res.Matches[0].Person != "Meryl Streep" {
		t.Errorf("search through the other server: %+v", res)
	}
	postJSON(t, two.URL+pathFaces+a.Faces[0].ID+"/name", `{"name":"Tom Hanks"}`)
	if got := addPhoto(t, one.URL, 310).Faces[0]; got.Person != "Tom Hanks" {
		t.Errorf("a face named through the other server should name this upload: %+v", got)
	}
}

// TestConcurrentUploadsJoinOneGroup: photos of one new person uploaded at
// once all land in one group (faces are placed one at a time), and a
// search running beside them never fails.
func TestConcurrentUploadsJoinOneGroup(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &fakeRecognizer{info: testInfo})
	widths := []int{320, 330, 350}
	errs := make(chan string, len(widths)+1)
	for _, w := range widths {
		go func() {
			r := upload(t, ts.URL, strings.TrimSuffix(pathLibPhotos, "/"), pngBytes(t, w, 40))
			errs <- fmt.Sprintf("upload %d: %d %s", w, r.status, r.body)
		}()
	}
	go func() {
		r := upload(t, ts.URL, pathSearch, pngBytes(t, 320, 40))
		errs <- fmt.Sprintf("search: %d %s", r.status, r.body)
	}()
	for range len(widths) + 1 {
		if msg := <-errs; !strings.Contains(msg, ": 200 ") {
			t.Error(msg)
		}
	}
	ps := people(t, ts.URL)
	if len(ps) != 1 || ps[0].FaceCount != len(widths) {
		t.Errorf("people after concurrent uploads of one person: %+v", ps)
	}
}
