package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starid/internal/faces"
)

// fakeRecognizer returns fixed faces, optionally blocking until release is
// closed (or ctx ends, unless ignoreCtx), so tests can fill the workers.
type fakeRecognizer struct {
	faces     []Face
	info      ModelInfo
	err       error
	panicMsg  string
	release   chan struct{} // nil: return at once
	ignoreCtx bool          // keep blocking after ctx is done, like a model that never checks it
	started   chan struct{} // receives one value per call when non-nil

	calls atomic.Int32
	mu    sync.Mutex
	last  *faces.Image
}

func (f *fakeRecognizer) Recognize(ctx context.Context, img *faces.Image) ([]Face, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.last = img
	f.mu.Unlock()
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.release != nil {
		if f.ignoreCtx {
			<-f.release
		} else {
			select {
			case <-f.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	if f.panicMsg != "" {
		panic(f.panicMsg)
	}
	return f.faces, f.err
}

func (f *fakeRecognizer) Info() ModelInfo { return f.info }

// twoFaces is deliberately smallest first: the server must reorder.
var twoFaces = []Face{
	{Box: [4]int{2, 3, 4, 5}, Name: "Meryl Streep", Confidence: 0.4, Unknown: true,
		Top: []Candidate{{Name: "Meryl Streep", Probability: 0.4}, {Name: "Tom Hanks", Probability: 0.35}}},
	{Box: [4]int{10, 1, 12, 14}, Name: "Tom Hanks", Confidence: 0.97,
		Top: []Candidate{{Name: "Tom Hanks", Probability: 0.97}, {Name: "Meryl Streep", Probability: 0.02}, {Name: "Denzel Washington", Probability: 0.01}}},
}

var testInfo = ModelInfo{Classes: []string{"Denzel Washington", "Meryl Streep", "Tom Hanks"}, Kind: "face", Threshold: 0.6}

// newTest starts a test server; logs go to the returned buffer as JSON.
func newTest(t testing.TB, rec Recognizer, opts Options) (*Server, *httptest.Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	s := New(rec, opts)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testImage is a w×h picture whose pixel (x, y) is (x, y, 100), so a test
// can check that the recognizer got the right pixels.
func testImage(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	return m
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// hugePNG is a small PNG whose header claims w×h: the IHDR size is patched
// and its CRC recomputed, so only a header check can stop it cheaply.
func hugePNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := pngBytes(t, 4, 4)
	// Signature (8), IHDR length (4), "IHDR" (4), then width and height.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// multipartBody builds a form with the given fields (name → content) in
// order; the field "image" is sent as a file part.
func multipartBody(t testing.TB, fields ...[2]string) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range fields {
		var w io.Writer
		var err error
		if f[0] == "image" {
			w, err = mw.CreateFormFile(f[0], "photo.png")
		} else {
			w, err = mw.CreateFormField(f[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func post(t testing.TB, url, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+pathRecognize, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

func get(t testing.TB, url string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func decodeJSON[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON; body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%v in %s", err, r.body)
	}
	return v
}

func TestRecognizeRawAndMultipart(t *testing.T) {
	pngImg := pngBytes(t, 40, 30)
	mpBody, mpType := multipartBody(t, [2]string{"note", "ignored"}, [2]string{"image", string(pngImg)})
	cases := []struct {
		name, contentType string
		body              []byte
		exact             bool // lossless: pixels must arrive unchanged
	}{
		{"raw png", "image/png", pngImg, true},
		{"raw png, no content type", "", pngImg, true},
		{"raw jpeg labelled octet-stream", "application/octet-stream", jpegBytes(t, 40, 30), false},
		{"multipart after another field", mpType, mpBody, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
			_, ts, _ := newTest(t, rec, Options{})
			r := post(t, ts.URL, c.contentType, bytes.NewReader(c.body))
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := decodeJSON[recognizeResponse](t, r)
			if got.Width != 40 || got.Height != 30 || got.MS < 0 {
				t.Errorf("size %dx%d, ms %v", got.Width, got.Height, got.MS)
			}
			if len(got.Faces) != 2 || got.Faces[0].Name != "Tom Hanks" || got.Faces[0].Box != [4]int{10, 1, 12, 14} {
				t.Fatalf("faces not largest first: %+v", got.Faces)
			}
			if f := got.Faces[1]; f.Name != UnknownName || !f.Unknown || f.Top[0].Name != "Meryl Streep" {
				t.Errorf("unknown face %+v", f)
			}
			if len(got.Faces[0].Top) != 3 || got.Faces[0].Top[0].Probability != 0.97 {
				t.Errorf("top %+v", got.Faces[0].Top)
			}
			rec.mu.Lock()
			img := rec.last
			rec.mu.Unlock()
			if img == nil || img.W != 40 || img.H != 30 {
				t.Fatalf("recognizer got %+v", img)
			}
			if c.exact {
				// Pixel (7, 5) is (7, 5, 100).
				if r, g, b := img.At(7, 5, 0), img.At(7, 5, 1), img.At(7, 5, 2); r != 7 || g != 5 || b != 100 {
					t.Errorf("pixel (7,5) = %v %v %v, want 7 5 100", r, g, b)
				}
			}
		})
	}
}

func TestRecognizeRawJSONShape(t *testing.T) {
	// The field names are the API; a rename must fail here.
	rec := &fakeRecognizer{faces: twoFaces[1:], info: testInfo}
	_, ts, _ := newTest(t, rec, Options{})
	r := post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 20, 20)))
	var raw map[string]any
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"faces", "width", "height", "ms"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("response lacks %q: %s", k, r.body)
		}
	}
	face := raw["faces"].([]any)[0].(map[string]any)
	for _, k := range []string{"box", "name", "confidence", "unknown", "top"} {
		if _, ok := face[k]; !ok {
			t.Errorf("face lacks %q: %s", k, r.body)
		}
	}
	top := face["top"].([]any)[0].(map[string]any)
	if top["name"] != "Tom Hanks" || top["probability"] != 0.97 {
		t.Errorf("top entry %v", top)
	}

	// No faces is an empty array, not null.
	rec.faces = nil
	r = post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 20, 20)))
	if !bytes.Contains(r.body, []byte(`"faces":[]`)) {
		t.Errorf("no faces gives %s", r.body)
	}
}

// chunked hides a body's length so the server cannot refuse it from the
// Content-Length header and must count.
type chunked struct{ io.Reader }

func TestRecognizeRefusals(t *testing.T) {
	const limit = 64 << 10
	big := bytes.Repeat([]byte{0xff}, limit+1)
	bigMP, bigMPType := multipartBody(t, [2]string{"image", string(append(pngBytes(t, 8, 8), big...))})
	noImage, noImageType := multipartBody(t, [2]string{"photo", string(pngBytes(t, 8, 8))})
	// Two photos in one form: the second was silently dropped.
	twoImages, twoImagesType := multipartBody(t, [2]string{"image", string(pngBytes(t, 8, 8))}, [2]string{"image", string(pngBytes(t, 9, 9))})
	pngImg := pngBytes(t, 40, 40)
	cases := []struct {
		name, contentType string
		body              io.Reader
		maxPixels         int
		method            string
		status            int
		msg               string // part of the error message
	}{
		{"over the body limit by Content-Length", "image/png", bytes.NewReader(big), 0, "", 413, "64 KB limit"},
		{"over the body limit, chunked", "image/png", chunked{bytes.NewReader(big)}, 0, "", 413, "64 KB limit"},
		{"over the body limit, multipart", bigMPType, chunked{bytes.NewReader(bigMP)}, 0, "", 413, "64 KB limit"},
		{"not an image", "image/png", strings.NewReader("hello, I am text and not a photo"), 0, "", 415, "not an image"},
		{"JPEG XL", "image/jxl", strings.NewReader("\xff\x0a\xfa\x7f\x01\x90\x08\x06\x01\x00\x64\x00"), 0, "", 415, "JPEG XL"},
		{"HEIC without its boxes", "image/heic", strings.NewReader("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), 0, "", 400, "corrupt HEIC"},
		{"truncated PNG", "image/png", bytes.NewReader(pngImg[:len(pngImg)/2]), 0, "", 400, "truncated PNG"},
		{"empty body", "image/png", strings.NewReader(""), 0, "", 400, "empty upload"},
		{"multipart without the image field", noImageType, bytes.NewReader(noImage), 0, "", 400, `no field "image"`},
		{"multipart with two image fields", twoImagesType, bytes.NewReader(twoImages), 0, "", 400, "one photo per request"},
		{"malformed multipart", "multipart/form-data; boundary=xyz", strings.NewReader("--nope\r\n"), 0, "", 400, "malformed multipart"},
		{"over the pixel limit", "image/png", bytes.NewReader(pngImg), 1000, "", 422, "over the 1000 pixels limit"},
		{"header claims 10 gigapixels", "image/png", bytes.NewReader(hugePNG(t, 100000, 100000)), 0, "", 422, "too large"},
		{"GET", "", nil, 0, http.MethodGet, 405, "use POST"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
			s, ts, _ := newTest(t, rec, Options{MaxBodyBytes: limit, MaxPixels: c.maxPixels})
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, ts.URL+pathRecognize, c.body)
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			r := do(t, req)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			e := decodeJSON[errorResponse](t, r)
			if !strings.Contains(e.Error, c.msg) {
				t.Errorf("error %q lacks %q", e.Error, c.msg)
			}
			if n := rec.calls.Load(); n != 0 {
				t.Errorf("recognizer ran %d times on a refused request", n)
			}
			if c.status == 405 && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
			if n := len(s.admitted); n != 0 {
				t.Errorf("%d admission tokens leaked", n)
			}
		})
	}
}

func TestRecognizerFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		rec  *fakeRecognizer
		msg  string
	}{
		{"error", &fakeRecognizer{err: errors.New("net exploded")}, "net exploded"},
		{"panic", &fakeRecognizer{panicMsg: "index out of range"}, "internal error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, ts, _ := newTest(t, c.rec, Options{})
			r := post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 8, 8)))
			if r.status != 500 || !strings.Contains(decodeJSON[errorResponse](t, r).Error, c.msg) {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			// The tokens come back, so the server keeps serving.
			waitFor(t, func() bool { return len(s.admitted) == 0 && len(s.workers) == 0 })
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestTimeout(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run("ignoreCtx="+strconv.FormatBool(ignore), func(t *testing.T) {
			rec := &fakeRecognizer{release: make(chan struct{}), ignoreCtx: ignore}
			s, ts, _ := newTest(t, rec, Options{RequestTimeout: 150 * time.Millisecond})
			start := time.Now()
			r := post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 8, 8)))
			if r.status != 503 || !strings.Contains(decodeJSON[errorResponse](t, r).Error, "longer than the 150ms limit") {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v", d)
			}
			if ignore {
				// A recognizer that ignores its context keeps its worker
				// until it returns: the bound on running models holds.
				time.Sleep(20 * time.Millisecond)
				if len(s.workers) != 1 {
					t.Errorf("%d workers busy, want the stuck one", len(s.workers))
				}
			}
			close(rec.release)
			waitFor(t, func() bool { return len(s.admitted) == 0 && len(s.workers) == 0 })
		})
	}
}

func TestBusyQueueGives503(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces, release: make(chan struct{}), started: make(chan struct{}, 8)}
	s, ts, _ := newTest(t, rec, Options{MaxConcurrent: 1, QueueLength: 1})
	body := pngBytes(t, 8, 8)
	results := make(chan int, 2)
	send := func() { results <- post(t, ts.URL, "image/png", bytes.NewReader(body)).status }
	go send()
	<-rec.started // first request holds the only worker
	go send()
	waitFor(t, func() bool { return len(s.admitted) == 2 }) // second one queued
	r := post(t, ts.URL, "image/png", bytes.NewReader(body))
	if r.status != 503 {
		t.Fatalf("third request: status %d, want 503: %s", r.status, r.body)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if e := decodeJSON[errorResponse](t, r); !strings.Contains(e.Error, "busy") {
		t.Errorf("error %q", e.Error)
	}
	h := decodeJSON[map[string]any](t, get(t, ts.URL+pathHealth))
	if h["running"] != 1.0 || h["queued"] != 1.0 {
		t.Errorf("healthz while full: %v", h)
	}
	close(rec.release)
	for range 2 {
		if st := <-results; st != 200 {
			t.Errorf("admitted request got %d", st)
		}
	}
	if n := rec.calls.Load(); n != 2 {
		t.Errorf("recognizer ran %d times, want 2", n)
	}
}

func TestClientGivesUpWhileQueued(t *testing.T) {
	rec := &fakeRecognizer{release: make(chan struct{}), started: make(chan struct{}, 8)}
	s, ts, logs := newTest(t, rec, Options{MaxConcurrent: 1})
	body := pngBytes(t, 8, 8)
	first := make(chan int, 1)
	go func() { first <- post(t, ts.URL, "image/png", bytes.NewReader(body)).status }()
	<-rec.started
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+pathRecognize, bytes.NewReader(body))
	gaveUp := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gaveUp <- err
	}()
	waitFor(t, func() bool { return len(s.admitted) == 2 })
	cancel()
	if err := <-gaveUp; err == nil {
		t.Error("the cancelled request got an answer")
	}
	waitFor(t, func() bool { return len(s.admitted) == 1 }) // its slot is free again
	close(rec.release)
	if st := <-first; st != 200 {
		t.Errorf("first request: %d", st)
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), `"status":499`) })
}

func TestQueueWaitTimesOut(t *testing.T) {
	// A queued request whose deadline passes before a worker frees up is
	// told the server is busy, with Retry-After.
	rec := &fakeRecognizer{release: make(chan struct{}), started: make(chan struct{}, 8), ignoreCtx: true}
	s, ts, _ := newTest(t, rec, Options{MaxConcurrent: 1, QueueLength: 4, RequestTimeout: 100 * time.Millisecond})
	body := pngBytes(t, 8, 8)
	first := make(chan int, 1)
	go func() { first <- post(t, ts.URL, "image/png", bytes.NewReader(body)).status }()
	<-rec.started
	r := post(t, ts.URL, "image/png", bytes.NewReader(body))
	if r.status != 503 || r.header.Get("Retry-After") == "" ||
		!strings.Contains(decodeJSON[errorResponse](t, r).Error, "no worker became free") {
		t.Fatalf("queued request: %d %v %s", r.status, r.header, r.body)
	}
	if st := <-first; st != 503 {
		t.Errorf("running request got %d, want 503 (timed out)", st)
	}
	close(rec.release)
	waitFor(t, func() bool { return len(s.admitted) == 0 })
}

func TestHealthzModelGalleryAndPage(t *testing.T) {
	thumb := pngBytes(t, 6, 6)
	rec := &fakeRecognizer{info: testInfo}
	_, ts, _ := newTest(t, rec, Options{MaxBodyBytes: 5 << 20, MaxPixels: 1234,
		Gallery: GalleryMap{"Tom Hanks": thumb, "Meryl Streep": []byte("not an image")}})

	h := get(t, ts.URL+pathHealth)
	if h.status != 200 || decodeJSON[map[string]any](t, h)["status"] != "ok" {
		t.Errorf("healthz %d %s", h.status, h.body)
	}

	m := decodeJSON[modelResponse](t, get(t, ts.URL+pathModel))
	if strings.Join(m.Classes, ",") != "Denzel Washington,Meryl Streep,Tom Hanks" || m.Kind != "face" ||
		m.Threshold != 0.6 || !m.Gallery || m.MaxUploadBytes != 5<<20 || m.MaxPixels != 1234 {
		t.Errorf("model %+v", m)
	}

	g := get(t, ts.URL+pathGallery+"Tom%20Hanks")
	if g.status != 200 || g.header.Get("Content-Type") != "image/png" || !bytes.Equal(g.body, thumb) {
		t.Errorf("thumbnail: %d %q %d bytes", g.status, g.header.Get("Content-Type"), len(g.body))
	}
	for _, name := range []string{"Meryl%20Streep", "Denzel%20Washington", "Nobody", "..%2F..%2Fetc%2Fpasswd"} {
		if g := get(t, ts.URL+pathGallery+name); g.status != 404 || decodeJSON[errorResponse](t, g).Error == "" {
			t.Errorf("gallery %s: %d %s", name, g.status, g.body)
		}
	}

	page := get(t, ts.URL+"/")
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(page.body, []byte(`<script src="app.js"`)) {
		t.Errorf("page: %d %q", page.status, page.header.Get("Content-Type"))
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for path, ctype := range map[string]string{"/app.js": "javascript", "/style.css": "text/css"} {
		r := get(t, ts.URL+path)
		if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q", path, r.status, r.header.Get("Content-Type"))
		}
	}
	if r := get(t, ts.URL+"/api/v2/nothing"); r.status != 404 || decodeJSON[errorResponse](t, r).Error == "" {
		t.Errorf("unknown API path: %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest(http.MethodDelete, ts.URL+pathModel, nil)
	if r := do(t, req); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE model: %d %v", r.status, r.header)
	}
}

func TestModelWithoutGallery(t *testing.T) {
	_, ts, _ := newTest(t, &fakeRecognizer{info: ModelInfo{Kind: "vgg16"}}, Options{})
	m := get(t, ts.URL+pathModel)
	if !bytes.Contains(m.body, []byte(`"classes":[]`)) || !bytes.Contains(m.body, []byte(`"gallery":false`)) {
		t.Errorf("model %s", m.body)
	}
	if g := get(t, ts.URL+pathGallery+"x"); g.status != 404 {
		t.Errorf("gallery without one: %d", g.status)
	}
}

func TestOneLogLinePerRequest(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
	_, ts, logs := newTest(t, rec, Options{})
	body := pngBytes(t, 12, 9)
	r := post(t, ts.URL, "image/png", bytes.NewReader(body))
	get(t, ts.URL+"/nope")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d request lines, want 2:\n%s", len(lines), logs)
	}
	l := lines[0]
	if l["method"] != "POST" || l["path"] != pathRecognize || l["status"] != 200.0 ||
		l["bytes"] != float64(len(r.body)) || l["in_bytes"] != float64(len(body)) {
		t.Errorf("log line %v (response %d bytes, request %d)", l, len(r.body), len(body))
	}
	if ms, ok := l["ms"].(float64); !ok || ms < 0 {
		t.Errorf("ms %v", l["ms"])
	}
	if lines[1]["status"] != 404.0 || lines[1]["method"] != "GET" || lines[1]["path"] != "/nope" {
		t.Errorf("second line %v", lines[1])
	}
}

func TestGracefulShutdown(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces, release: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(rec, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	inFlight := make(chan response, 1)
	go func() { inFlight <- post(t, url, "image/png", bytes.NewReader(pngBytes(t, 8, 8))) }()
	<-rec.started
	cancel()
	// New connections are refused once the listener closes...
	waitFor(t, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	if !s.closing.Load() {
		t.Error("healthz would still say ok while shutting down")
	}
	// ...and the request in flight still gets its answer.
	close(rec.release)
	if r := <-inFlight; r.status != 200 {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	o := New(&fakeRecognizer{}, Options{QueueLength: -1}).Options()
	if o.Addr != "127.0.0.1:8080" || o.MaxBodyBytes != 20<<20 || o.MaxPixels != 25_000_000 ||
		o.RequestTimeout != 30*time.Second || o.MaxConcurrent != 2 || o.QueueLength != 0 ||
		o.ShutdownTimeout != 35*time.Second || o.Logger == nil {
		t.Errorf("defaults %+v", o)
	}
	if q := New(&fakeRecognizer{}, Options{}).Options().QueueLength; q != 16 {
		t.Errorf("default queue %d", q)
	}
}
