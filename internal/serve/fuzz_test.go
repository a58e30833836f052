package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"starid/internal/faces"
	"starid/internal/library"
)

// The fuzz targets send arbitrary bodies through the whole HTTP handler:
// whatever arrives, the answer is a documented status with a JSON body,
// never a 5xx or a crash.

// fuzzPost sends body with the Content-Type ctype to path on h.
func fuzzPost(h http.Handler, path, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://localhost"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// checkErrorBody fails unless a refusal's body is a JSON error with a
// message.
func checkErrorBody(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e errorResponse
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("status %d with body %q", w.Code, w.Body.Bytes())
	}
}

// wholeImage "finds" one face covering the whole photo, so the fuzz target
// can check that the sizes the handler reports are the ones it decoded.
type wholeImage struct{}

func (wholeImage) Recognize(_ context.Context, img *faces.Image) ([]Face, error) {
	if len(img.Pix) != 3*img.W*img.H {
		panic("image buffer does not match its size")
	}
	return []Face{{Box: [4]int{0, 0, img.W, img.H}, Name: "A", Confidence: 1, Top: []Candidate{{Name: "A", Probability: 1}}}}, nil
}

func (wholeImage) Info() ModelInfo { return ModelInfo{Classes: []string{"A"}, Kind: "face"} }

// FuzzRecognizeHandler sends arbitrary bodies with arbitrary Content-Type
// headers (raw and multipart) through the whole handler. Whatever arrives,
// the answer must be one of the documented statuses with a JSON body, a
// success must describe an image within the pixel limit, and every worker
// and queue slot must be free again afterwards. The seed corpus in
// testdata/fuzz/FuzzRecognizeHandler holds valid images of each format,
// broken and oversized ones, and multipart forms.
func FuzzRecognizeHandler(f *testing.F) {
	const maxPixels = 1 << 20
	s := New(wholeImage{}, Options{
		MaxBodyBytes:   1 << 20,
		MaxPixels:      maxPixels,
		RequestTimeout: time.Minute,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	h := s.Handler()
	f.Add(pngBytes(f, 3, 2), "image/png")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		w := fuzzPost(h, pathRecognize, contentType, body)
		if len(s.admitted) != 0 || len(s.workers) != 0 {
			t.Fatalf("slots still held after the answer: %d admitted, %d working", len(s.admitted), len(s.workers))
		}
		switch w.Code {
		case 200:
			var res recognizeResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatalf("200 with a body that is not JSON: %v", err)
			}
			if res.Width <= 0 || res.Height <= 0 || res.Width*res.Height > maxPixels {
				t.Fatalf("decoded a %dx%d image, limit %d pixels", res.Width, res.Height, maxPixels)
			}
			if len(res.Faces) != 1 || res.Faces[0].Box != [4]int{0, 0, res.Width, res.Height} {
				t.Fatalf("faces %+v for a %dx%d image", res.Faces, res.Width, res.Height)
			}
		case 400, 413, 415, 422:
			checkErrorBody(t, w)
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzLibraryJSON sends arbitrary JSON-ish bodies to the endpoints that
// name a face, name a person and merge people. Whatever arrives, the
// answer is 200, or a 4xx with a JSON error, never a 5xx; and a name that
// is stored is one checkName accepts (no control characters, not blank,
// at most maxNameRunes).
func FuzzLibraryJSON(f *testing.F) {
	ctx := context.Background()
	st, err := library.Open(ctx, filepath.Join(f.TempDir(), "lib.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	s := New(&fakeRecognizer{info: testInfo}, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Library: &Library{Store: st, Finder: fakeFinder{libPhotos}, Pipeline: "test-1", Uploads: f.TempDir()}})
	h := s.Handler()
	if w := fuzzPost(h, pathLibPhotos[:len(pathLibPhotos)-1], "image/png", pngBytes(f, 300, 40)); w.Code != 200 {
		f.Fatalf("seeding the library: %d %s", w.Code, w.Body)
	}
	for _, seed := range []string{`{"name":"Tom Hanks"}`, `{"from":"2"}`, `{"name":"\u0000"}`, `{"name":"unknown"}`, `[]`, `{"name":1}`} {
		f.Add([]byte(seed), uint8(0))
	}
	paths := []string{pathFaces + "1/name", pathFaces + "2/name", pathPerson + "1/name", pathPerson + "1/merge", pathFaces + "1/forget"}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		w := fuzzPost(h, paths[int(which)%len(paths)], "application/json", body)
		switch {
		case w.Code == 200:
		case w.Code >= 400 && w.Code < 500:
			checkErrorBody(t, w)
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
		names, err := st.NamedPeople(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if _, err := checkName(n); err != nil || utf8.RuneCountInString(n) > maxNameRunes ||
				len(n) > 0 && (unicode.IsSpace(rune(n[0])) || unicode.IsSpace(rune(n[len(n)-1]))) {
				t.Fatalf("stored name %q: %v", n, err)
			}
		}
	})
}
