package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"starid/internal/data"
)

// The attacks of issue 17 that the server must hold against, each replayed
// quickly at small scale.

func TestScanBombIsRefusedBeforeDecoding(t *testing.T) {
	// Issue 17 row 1: 5,000 empty scans over a 5000×5000 image held a
	// worker for minutes. Now the marker walk refuses it before it waits
	// for a worker: even with the only worker busy and no queue, the
	// answer is 422, not 503, and the worker is free for the next photo.
	rec := &fakeRecognizer{faces: twoFaces, release: make(chan struct{}), started: make(chan struct{}, 1)}
	s, ts, _ := newTest(t, rec, Options{MaxConcurrent: 1, QueueLength: -1})
	first := make(chan int, 1)
	go func() { first <- post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 8, 8))).status }()
	<-rec.started
	bomb := data.ScanBombJPEG(5000, 5000, 5000)
	r := post(t, ts.URL, "image/jpeg", bytes.NewReader(bomb))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(decodeJSON[errorResponse](t, r).Error, "scans") {
		t.Fatalf("scan bomb: status %d: %s", r.status, r.body)
	}
	close(rec.release)
	if st := <-first; st != 200 {
		t.Errorf("the photo in progress: %d", st)
	}
	waitFor(t, func() bool { return len(s.workers) == 0 && len(s.admitted) == 0 })
	if r := post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 8, 8))); r.status != 200 {
		t.Errorf("a photo after the bomb: %d %s", r.status, r.body)
	}
}

func TestDeepImageOverTheByteBudget(t *testing.T) {
	// Issue 17 row 10: a 16-bit image takes 8 bytes a pixel in the
	// decoder. Within the pixel limit but over its bytes, it is refused.
	var b bytes.Buffer
	png.Encode(&b, image.NewNRGBA64(image.Rect(0, 0, 30, 30)))
	_, ts, _ := newTest(t, &fakeRecognizer{}, Options{MaxPixels: 1000})
	r := post(t, ts.URL, "image/png", bytes.NewReader(b.Bytes()))
	if msg := decodeJSON[errorResponse](t, r).Error; r.status != 422 || !strings.Contains(msg, "16-bit") {
		t.Errorf("900-pixel 16-bit PNG, 1000-pixel limit: %d %s", r.status, msg)
	}
}

// slowBody opens a connection that announces a body of size bytes and sends
// only its first byte: the attack of issue 17 row 2.
func slowBody(t *testing.T, addr string, size int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n\xff", pathRecognize, size)
	return c
}

func TestSlowBodiesDoNotBlockUploads(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces}
	s, ts, logs := newTest(t, rec, Options{MaxConcurrent: 1, QueueLength: -1, BodyTimeout: 300 * time.Millisecond})
	addr := strings.TrimPrefix(ts.URL, "http://")
	var slow []net.Conn
	for range 4 {
		slow = append(slow, slowBody(t, addr, 10<<20))
	}
	waitFor(t, func() bool { return s.uploadBytes.Load() >= 4 }) // all four are being read
	// The only worker and no queue: before, the first slow body took the
	// one slot and this got 503 for as long as the trickle went on.
	if r := post(t, ts.URL, "image/png", bytes.NewReader(pngBytes(t, 8, 8))); r.status != 200 {
		t.Fatalf("a photo while 4 bodies trickle in: %d %s", r.status, r.body)
	}
	for i, c := range slow {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("slow body %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "too slowly") {
			t.Errorf("slow body %d: %d %s", i, resp.StatusCode, b)
		}
	}
	waitFor(t, func() bool { return s.uploadBytes.Load() == 0 })
	if !strings.Contains(logs.String(), `"status":408`) {
		t.Error("the 408s are not logged")
	}
}

func TestUploadMemoryBudget(t *testing.T) {
	s, ts, _ := newTest(t, &fakeRecognizer{faces: twoFaces}, Options{UploadMemory: 1000})
	r := post(t, ts.URL, "application/octet-stream", bytes.NewReader(make([]byte, 4000)))
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("an upload over the memory budget: %d %v %s", r.status, r.header, r.body)
	}
	if n := s.uploadBytes.Load(); n != 0 {
		t.Errorf("%d bytes still charged", n)
	}
}

func TestDuplicateBoundaryIsAMalformedForm(t *testing.T) {
	_, ts, _ := newTest(t, &fakeRecognizer{}, Options{})
	r := post(t, ts.URL, "multipart/form-data; boundary=a; boundary=b", strings.NewReader("--a\r\n"))
	if msg := decodeJSON[errorResponse](t, r).Error; r.status != 400 || !strings.Contains(msg, "malformed Content-Type") {
		t.Errorf("two boundaries: %d %s", r.status, msg)
	}
}

func TestHostCheck(t *testing.T) {
	rec := &fakeRecognizer{info: testInfo}
	_, ts, _ := newTest(t, rec, Options{})
	_, tsAllow, _ := newTest(t, rec, Options{AllowHosts: []string{"Photos.LAN"}})
	for _, c := range []struct {
		url, host string
		want      int
	}{
		{ts.URL, "evil.example:8080", 403}, // a DNS-rebinding page
		{ts.URL, "evil.example", 403},
		{ts.URL, "localhost:8080", 200},
		{ts.URL, "LOCALHOST.", 200},
		{ts.URL, "app.localhost", 200},
		{ts.URL, "127.0.0.1:8080", 200},
		{ts.URL, "[::1]:8080", 200},
		{ts.URL, "192.168.1.20", 200}, // an address cannot be rebound
		{ts.URL, "photos.lan", 403},
		{tsAllow.URL, "photos.lan:8080", 200},
		{tsAllow.URL, "other.lan", 403},
	} {
		req, _ := http.NewRequest(http.MethodGet, c.url+pathModel, nil)
		req.Host = c.host
		r := do(t, req)
		if r.status != c.want {
			t.Errorf("Host %q: %d, want %d: %s", c.host, r.status, c.want, r.body)
		}
		if c.want == 403 && !strings.Contains(decodeJSON[errorResponse](t, r).Error, "--allow-host") {
			t.Errorf("Host %q: the refusal does not say how to allow it: %s", c.host, r.body)
		}
	}
	_, tsAny, _ := newTest(t, rec, Options{AllowHosts: []string{"*"}})
	req, _ := http.NewRequest(http.MethodGet, tsAny.URL+pathModel, nil)
	req.Host = "anything.example"
	if r := do(t, req); r.status != 200 {
		t.Errorf("--allow-host '*': %d", r.status)
	}
}

func TestCrossOrigin(t *testing.T) {
	rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
	const trusted = "https://app.example"
	_, ts, _ := newTest(t, rec, Options{CORSOrigins: []string{trusted}})
	photo := pngBytes(t, 8, 8)
	send := func(method, origin, site string, h http.Header) response {
		req, _ := http.NewRequest(method, ts.URL+pathRecognize, bytes.NewReader(photo))
		req.Header.Set("Content-Type", "text/plain") // a "simple" request: no preflight
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		return do(t, req)
	}
	// Any page may post a file to a local server without a preflight;
	// before, it was recognized (the page only could not read the answer).
	for _, c := range []struct{ origin, site string }{
		{"https://evil.example", "cross-site"},
		{"https://evil.example", ""}, // an older browser: Origin against Host
	} {
		before := rec.calls.Load()
		r := send(http.MethodPost, c.origin, c.site, nil)
		if r.status != 403 || rec.calls.Load() != before || r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("cross-origin post from %s (Sec-Fetch-Site %q): %d, recognized %d times: %s",
				c.origin, c.site, r.status, rec.calls.Load()-before, r.body)
		}
	}
	if r := send(http.MethodPost, ts.URL, "same-origin", nil); r.status != 200 {
		t.Errorf("same-origin post: %d %s", r.status, r.body)
	}
	if r := send(http.MethodPost, "", "", nil); r.status != 200 {
		t.Errorf("a non-browser client: %d %s", r.status, r.body)
	}
	r := send(http.MethodPost, trusted, "cross-site", nil)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != trusted {
		t.Errorf("post from the --cors origin: %d, ACAO %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	pre := http.Header{"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}
	r = send(http.MethodOptions, trusted, "cross-site", pre)
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != trusted ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from the --cors origin: %d %v", r.status, r.header)
	}
	r = send(http.MethodOptions, "https://evil.example", "cross-site", pre)
	if r.status != 403 || r.header.Get("Access-Control-Allow-Origin") != "" ||
		!strings.Contains(decodeJSON[errorResponse](t, r).Error, "--cors https://evil.example") {
		t.Errorf("preflight from another origin: %d %v %s", r.status, r.header, r.body)
	}
	if err := CheckOrigin("https://app.example/path"); err == nil {
		t.Error("an origin with a path was accepted")
	}
}

// serveOn runs s on a fresh loopback listener until the test ends.
func serveOn(t *testing.T, s *Server) (addr string, stop context.CancelFunc, served chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served = make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); s.Close(); <-served })
	return ln.Addr().String(), cancel, served
}

func TestConnectionCap(t *testing.T) {
	// Issue 17 row 13: 20,000 idle connections exhausted the file limit.
	// Past MaxConns, the connection idle longest is closed for a new one;
	// a connection with a request in progress never is.
	rec := &fakeRecognizer{info: testInfo, release: make(chan struct{}), started: make(chan struct{}, 1)}
	s := New(rec, Options{MaxConns: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	addr, _, _ := serveOn(t, s)
	busy := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+pathRecognize, "image/png", bytes.NewReader(pngBytes(t, 8, 8)))
		if err != nil {
			busy <- -1
			return
		}
		resp.Body.Close()
		busy <- resp.StatusCode
	}()
	<-rec.started // one connection is working
	var idle []net.Conn
	for range 5 { // then more idle ones than the cap leaves room for
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	for range 3 { // each new client is still served
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get("http://" + addr + pathHealth)
		if err != nil {
			t.Fatalf("a new client beside %d idle connections: %v", len(idle), err)
		}
		resp.Body.Close()
	}
	closed := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed < 3 {
		t.Errorf("%d of 5 idle connections closed, want at least 3 (cap 3, one busy)", closed)
	}
	close(rec.release)
	if st := <-busy; st != 200 {
		t.Errorf("the request in progress: %d, want 200 (it must never be evicted)", st)
	}
}

func TestCloseCutsTheDrainShort(t *testing.T) {
	// Issue 17 row 13: a second Ctrl-C must stop a server that is
	// draining a request that will not end.
	rec := &fakeRecognizer{release: make(chan struct{}), started: make(chan struct{}, 1), ignoreCtx: true}
	defer close(rec.release)
	s := New(rec, Options{ShutdownTimeout: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	addr, stop, served := serveOn(t, s)
	go http.Post("http://"+addr+pathRecognize, "image/png", bytes.NewReader(pngBytes(t, 8, 8)))
	<-rec.started
	stop() // first signal: drain, for up to an hour
	select {
	case err := <-served:
		t.Fatalf("Serve returned while a request was in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	s.Close() // second signal
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("forced stop: %v", err)
		}
		served <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the draining server")
	}
}
