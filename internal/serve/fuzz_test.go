package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"starid/internal/faces"
)

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
		req := httptest.NewRequest(http.MethodPost, "http://localhost"+pathRecognize, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
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
			var e errorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("status %d with body %q", w.Code, w.Body.Bytes())
			}
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, w.Body.Bytes())
		}
	})
}
