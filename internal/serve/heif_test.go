package serve

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// Phones upload AVIF and HEIC; both reach the recognizer decoded, under
// the same pixel limit as every other format (data's header reader).
func TestRecognizeAVIFAndHEIC(t *testing.T) {
	for _, tc := range []struct {
		file string
		w, h int
	}{{"quadrants.avif", 65, 47}, {"quadrants.heic", 128, 96}} {
		b, err := os.ReadFile(filepath.Join("..", "data", "testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
		_, ts, _ := newTest(t, rec, Options{})
		r := post(t, ts.URL, "application/octet-stream", bytes.NewReader(b))
		if got := decodeJSON[recognizeResponse](t, r); r.status != http.StatusOK || got.Width != tc.w || got.Height != tc.h {
			t.Errorf("%s: status %d, %dx%d: %s", tc.file, r.status, got.Width, got.Height, r.body)
		}
		_, ts, _ = newTest(t, rec, Options{MaxPixels: 1000})
		if r := post(t, ts.URL, "", bytes.NewReader(b)); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s over the pixel limit: status %d: %s", tc.file, r.status, r.body)
		}
	}
}
