package serve

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"starid/internal/testkit"
)

// The golden tests pin the HTTP API's answers (status, the headers a
// client acts on, the JSON body) for generated photos and the fake models
// of the other tests, so a refactor of the server cannot change what a
// client receives unnoticed. Run with -update to rewrite testdata after a
// change meant to alter an answer, and read the diff.
var updateGolden = flag.Bool("update", false, "rewrite internal/serve/testdata/*.golden from today's answers")

// apiCall is one request of a golden script.
type apiCall struct {
	name, method, path, ctype string
	body                      []byte
}

var (
	// Timings ("ms": 12.3) differ from run to run.
	goldenMS = regexp.MustCompile(`("ms"): [0-9.e+-]+`)
	// Temporary folders differ per run: keep their place, drop the random part.
	goldenTmp = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/Test[^/]*/[0-9]+`)
	// A multipart boundary is random.
	goldenBoundary = regexp.MustCompile(`boundary=\w+`)
)

// goldenHeaders are the response headers a client acts on.
var goldenHeaders = []string{"Content-Type", "Allow", "Retry-After", "Link"}

// transcript renders a response for its golden file: request line,
// status, headers, and the body indented when it is JSON.
func transcript(c apiCall, r response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", c.method, c.path)
	if c.ctype != "" {
		fmt.Fprintf(&b, "Content-Type: %s (%d bytes)\n", goldenBoundary.ReplaceAllString(c.ctype, "boundary=B"), len(c.body))
	}
	fmt.Fprintf(&b, "--- %d %s\n", r.status, http.StatusText(r.status))
	for _, h := range goldenHeaders {
		if v := r.header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	var pretty bytes.Buffer
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") && json.Indent(&pretty, r.body, "", "  ") == nil {
		body := goldenMS.ReplaceAllString(pretty.String(), `$1: 0`)
		body = goldenTmp.ReplaceAllString(body, "$$TMP")
		// Distances and similarities are compared to 4 decimals: the
		// nearest-neighbour code may sum in another order on another CPU.
		body = testkit.RoundFloats(body, 4)
		b.WriteString(body + "\n")
	} else if strings.HasPrefix(r.header.Get("Content-Type"), "image/") {
		b.WriteString("(an image; its bytes depend on the encoder)\n")
	} else {
		fmt.Fprintf(&b, "(%d bytes)\n", len(r.body))
	}
	return b.String()
}

// checkGolden compares got with testdata/NAME.golden (or writes it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	testkit.Golden(t, path, got, *updateGolden, "go test -tags nodynamic ./internal/serve -run Golden -update")
}

// runGolden makes the call on base and checks its transcript; it returns
// the response for the next steps of a script.
func runGolden(t *testing.T, base string, c apiCall) response {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	r := do(t, req)
	checkGolden(t, c.name, transcript(c, r))
	return r
}

// TestGoldenRecognizeAPI pins the model-only endpoints and every refusal
// of an upload.
func TestGoldenRecognizeAPI(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
	_, ts, _ := newTest(t, rec, Options{MaxBodyBytes: 64 << 10, Gallery: GalleryMap{"Tom Hanks": pngBytes(t, 8, 8)}})
	photo := pngBytes(t, 40, 30)
	mp, mpType := multipartBody(t, [2]string{"note", "hi"}, [2]string{"image", string(photo)})
	post, get := http.MethodPost, http.MethodGet
	for _, c := range []apiCall{
		{"recognize-raw", post, pathRecognize, "image/png", photo},
		{"recognize-multipart", post, pathRecognize, mpType, mp},
		{"recognize-wrong-method", get, pathRecognize, "", nil},
		{"recognize-too-large", post, pathRecognize, "image/png", make([]byte, 64<<10+1)},
		{"recognize-not-an-image", post, pathRecognize, "image/png", []byte("hello, I am text and not a photo")},
		{"recognize-truncated", post, pathRecognize, "image/png", photo[:len(photo)/2]},
		{"recognize-empty", post, pathRecognize, "image/png", nil},
		{"recognize-too-many-pixels", post, pathRecognize, "image/png", hugePNG(t, 100000, 100000)},
		{"model", get, pathModel, "", nil},
		{"health", get, pathHealth, "", nil},
		{"gallery-unknown", get, pathGallery + "Nobody", "", nil},
		{"gallery", get, pathGallery + "Tom%20Hanks", "", nil},
		{"unknown-endpoint", get, "/api/v1/nothing", "", nil},
		{"people-without-library", get, pathPeople, "", nil},
		{"upload-without-library", post, strings.TrimSuffix(pathLibPhotos, "/"), "image/png", photo},
	} {
		runGolden(t, ts.URL, c)
	}
}

// TestGoldenLibraryAPI pins the library endpoints along one story: two
// uploads, the people, a search by name and by photo, naming a face and a
// person, merging, forgetting, and the refusals of each.
func TestGoldenLibraryAPI(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &namingRecognizer{fakeRecognizer{info: testInfo}})
	lib := strings.TrimSuffix(pathLibPhotos, "/")
	post, get := http.MethodPost, http.MethodGet
	js := "application/json"
	step := func(c apiCall) response { t.Helper(); return runGolden(t, ts.URL, c) }
	first := decodeJSON[libraryUploadResponse](t, step(apiCall{"library-upload", post, lib, "image/png", pngBytes(t, 300, 80)}))
	step(apiCall{"library-upload-again", post, lib, "image/png", pngBytes(t, 300, 80)})
	step(apiCall{"library-upload-second", post, lib, "image/png", pngBytes(t, 320, 80)})
	step(apiCall{"library-upload-not-an-image", post, lib, "image/png", []byte("not a photo at all")})
	step(apiCall{"library-upload-wrong-method", get, lib, "", nil})
	step(apiCall{"library-photo", get, pathLibPhotos + first.ID, "", nil})
	step(apiCall{"library-photo-unknown", get, pathLibPhotos + "999", "", nil})
	step(apiCall{"library-photo-image", get, pathLibPhotos + first.ID + "/image", "", nil})
	step(apiCall{"face-thumb", get, pathFaces + first.Faces[0].ID + "/thumb", "", nil})
	step(apiCall{"face-thumb-unknown", get, pathFaces + "999/thumb", "", nil})
	step(apiCall{"people", get, pathPeople, "", nil})
	step(apiCall{"people-one-face-each", get, pathPeople + "?faces=1", "", nil})
	step(apiCall{"people-bad-faces", get, pathPeople + "?faces=-1", "", nil})
	step(apiCall{"people-wrong-method", post, pathPeople, js, []byte(`{}`)})
	tom, other := first.Faces[0], first.Faces[1]
	step(apiCall{"person-photos", get, pathPerson + other.PersonID + "/photos", "", nil})
	step(apiCall{"person-photos-unknown", get, pathPerson + "999/photos", "", nil})
	step(apiCall{"search-person", get, pathSearch + "?top=3&person=Tom%20Hanks", "", nil})
	step(apiCall{"search-person-unknown", get, pathSearch + "?person=Nobody", "", nil})
	step(apiCall{"search-no-query", get, pathSearch, "", nil})
	step(apiCall{"search-bad-top", get, pathSearch + "?person=x&top=0", "", nil})
	step(apiCall{"search-like", post, pathSearch + "?top=2", "image/png", pngBytes(t, 350, 60)})
	step(apiCall{"search-like-no-face", post, pathSearch, "image/png", pngBytes(t, 20, 20)})
	step(apiCall{"name-face", post, pathFaces + other.ID + "/name", js, []byte(`{"name":"Meryl Streep"}`)})
	step(apiCall{"name-face-bad-json", post, pathFaces + other.ID + "/name", js, []byte(`{"name":`)})
	step(apiCall{"name-face-unknown-field", post, pathFaces + other.ID + "/name", js, []byte(`{"name":"x","extra":1}`)})
	step(apiCall{"name-face-not-json", post, pathFaces + other.ID + "/name", "text/plain", []byte(`{"name":"x"}`)})
	step(apiCall{"name-face-unknown-name", post, pathFaces + other.ID + "/name", js, []byte(`{"name":"Unknown"}`)})
	step(apiCall{"name-face-unknown-face", post, pathFaces + "999/name", js, []byte(`{"name":"x"}`)})
	step(apiCall{"name-face-bad-id", post, pathFaces + "abc/name", js, []byte(`{"name":"x"}`)})
	step(apiCall{"name-person", post, pathPerson + tom.PersonID + "/name", js, []byte(`{"name":"Thomas Hanks"}`)})
	step(apiCall{"name-person-unknown", post, pathPerson + "999/name", js, []byte(`{"name":"x"}`)})
	// A name spelt like another person's but not the same is a conflict
	// (409), not a server error, and names the person who has it.
	step(apiCall{"name-person-look-alike", post, pathPerson + other.PersonID + "/name", js, []byte(`{"name":"thomas  HANKS"}`)})
	step(apiCall{"name-face-look-alike", post, pathFaces + tom.ID + "/name", js, []byte(`{"name":"meryl streep"}`)})
	third := decodeJSON[libraryUploadResponse](t, step(apiCall{"library-upload-stranger", post, lib, "image/png", pngBytes(t, 340, 80)}))
	step(apiCall{"merge-self", post, pathPerson + tom.PersonID + "/merge", js, []byte(fmt.Sprintf(`{"from":%q}`, tom.PersonID))})
	step(apiCall{"merge", post, pathPerson + tom.PersonID + "/merge", js, []byte(fmt.Sprintf(`{"from":%q}`, third.Faces[0].PersonID))})
	step(apiCall{"forget-face", post, pathFaces + third.Faces[0].ID + "/forget", "", nil})
	step(apiCall{"people-after", get, pathPeople, "", nil})
	step(apiCall{"model-library", get, pathModel, "", nil})
}

// TestGoldenLibraryAloneAPI pins serve --db without a run: faces are named
// after the library's named people.
func TestGoldenLibraryAloneAPI(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), nil)
	a := addPhoto(t, ts.URL, 300)
	postJSON(t, ts.URL+pathFaces+a.Faces[0].ID+"/name", `{"name":"Tom Hanks"}`)
	runGolden(t, ts.URL, apiCall{"library-alone-recognize", http.MethodPost, pathRecognize, "image/png", pngBytes(t, 310, 50)})
	runGolden(t, ts.URL, apiCall{"library-alone-model", http.MethodGet, pathModel, "", nil})
}
