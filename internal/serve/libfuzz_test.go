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
	"unicode"
	"unicode/utf8"

	"starid/internal/library"
)

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
	post := func(path, ctype string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "http://localhost"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := post(pathLibPhotos[:len(pathLibPhotos)-1], "image/png", pngBytes(f, 300, 40)); w.Code != 200 {
		f.Fatalf("seeding the library: %d %s", w.Code, w.Body)
	}
	for _, seed := range []string{`{"name":"Tom Hanks"}`, `{"from":"2"}`, `{"name":"\u0000"}`, `{"name":"unknown"}`, `[]`, `{"name":1}`} {
		f.Add([]byte(seed), uint8(0))
	}
	paths := []string{pathFaces + "1/name", pathFaces + "2/name", pathPerson + "1/name", pathPerson + "1/merge", pathFaces + "1/forget"}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		w := post(paths[int(which)%len(paths)], "application/json", body)
		switch {
		case w.Code == 200:
		case w.Code >= 400 && w.Code < 500:
			var e errorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("status %d with body %q", w.Code, w.Body.Bytes())
			}
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
