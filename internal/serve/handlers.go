package serve

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"starid/internal/data"
)

//go:embed web
var webFiles embed.FS

// API paths.
const (
	pathRecognize = "/api/v1/recognize"
	pathModel     = "/api/v1/model"
	pathGallery   = "/api/v1/gallery/"
	pathHealth    = "/healthz"
)

// recognizeResponse is the body of a successful POST /api/v1/recognize.
type recognizeResponse struct {
	Faces  []Face  `json:"faces"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	MS     float64 `json:"ms"`
}

// modelResponse is GET /api/v1/model: the model, plus the limits a client
// needs to know before it uploads.
type modelResponse struct {
	ModelInfo
	Gallery        bool  `json:"gallery"`
	Library        bool  `json:"library"` // the library API answers (serve --db)
	MaxUploadBytes int64 `json:"max_upload_bytes"`
	MaxPixels      int   `json:"max_pixels"`
}

type errorResponse struct {
	Error string `json:"error"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		handle(mux, rt)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.URL.Path)
	})
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed pattern above guarantees the folder
	}
	files := http.FileServerFS(web)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		// The page is a handful of small files that change with the
		// binary; revalidating each time is cheap and never stale.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	return securityHeaders(mux)
}

// securityHeaders sets headers that make the page safe to open: only our
// own scripts and styles run, uploads shown as blob: images, no framing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; "+
			"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// allow answers 405 with an Allow header unless the method is one of
// methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; use %s", r.Method, strings.Join(methods, " or ")))
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error: cannot encode the response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if s.closing.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
		return
	}
	running := len(s.workers)
	writeJSON(w, http.StatusOK, map[string]any{
		"status":  "ok",
		"running": running,
		"queued":  max(0, len(s.admitted)-running),
	})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	info := s.rec.Info()
	if info.Classes == nil {
		info.Classes = []string{}
	}
	writeJSON(w, http.StatusOK, modelResponse{
		ModelInfo:      info,
		Gallery:        s.opts.Gallery != nil,
		Library:        s.lib != nil,
		MaxUploadBytes: s.opts.MaxBodyBytes,
		MaxPixels:      s.opts.MaxPixels,
	})
}

func (s *Server) handleGallery(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	name := r.PathValue("name")
	if s.opts.Gallery == nil || !slices.Contains(s.rec.Info().Classes, name) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no picture of %q", name))
		return
	}
	img, ok := s.opts.Gallery.Thumbnail(name)
	ctype := ""
	if ok {
		ctype = http.DetectContentType(img)
	}
	// Only serve what a browser will show as an image, whatever the
	// gallery holds.
	if !strings.HasPrefix(ctype, "image/") {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no picture of %q", name))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "max-age=3600")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(img))
}

// statusClientClosed is logged for a request whose client gave up before
// the answer (nginx's 499): it was neither served nor refused.
const statusClientClosed = 499

// recognized is what the recognition goroutine hands back.
type recognized struct {
	faces         []Face
	width, height int
	status        int // 0 on success
	msg           string
	pixels        int // decoded size, for afterWork
	library       *libraryUploadResponse
	search        *searchResponse
}

func (s *Server) handleRecognize(w http.ResponseWriter, r *http.Request) {
	s.serveUpload(w, r, s.recognize, func(res recognized, ms float64) any {
		return recognizeResponse{Faces: res.faces, Width: res.width, Height: res.height, MS: ms}
	})
}

// serveUpload runs one photo upload through the server's limits: the body
// read under its deadline and memory budget, a queue slot, a worker, the
// request timeout. work runs on the photo in memory; answer makes the
// response body of a success, given the milliseconds since the request
// began.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, work func(context.Context, []byte) recognized,
	answer func(res recognized, ms float64) any) {
	start := time.Now()
	if !allow(w, r, http.MethodPost) {
		return
	}
	if r.ContentLength > s.opts.MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, s.tooBigMsg())
		return
	}
	body := s.newUploadBody(w, r)
	handedOff := false
	defer func() {
		if !handedOff {
			body.release()
		}
	}()
	upload, ok := s.receive(w, r, body)
	if !ok {
		return
	}
	// The answer may be written long after the request began for a large
	// upload on a slow line; the write deadline counts from here.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.RequestTimeout + 10*time.Second))

	select {
	case s.admitted <- struct{}{}:
	default:
		s.busy(w, "the server is busy; try again shortly")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	select {
	case s.workers <- struct{}{}:
	case <-ctx.Done():
		<-s.admitted
		if r.Context().Err() != nil {
			w.WriteHeader(statusClientClosed) // nobody to answer; the log says why
			return
		}
		s.busy(w, fmt.Sprintf("the server is busy: no worker became free within %v", s.opts.RequestTimeout))
		return
	}
	// From here the goroutine owns both tokens and the upload's bytes: it
	// gives them back when the work really returns, which the decoding
	// budget and ctx make soon after this request ends.
	handedOff = true
	done := make(chan recognized, 1)
	go func() {
		began := time.Now()
		res := s.safely(ctx, upload, work)
		upload = nil
		s.observe(time.Since(began))
		// Free the slots before answering, so a client that sends its
		// next photo the moment it has this answer finds room.
		body.release()
		<-s.workers
		<-s.admitted
		done <- res
		s.afterWork(res)
	}()

	select {
	case res := <-done:
		if res.status != 0 {
			if res.status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", strconv.Itoa(unreachableRetry))
			}
			writeError(w, res.status, res.msg)
			return
		}
		writeJSON(w, http.StatusOK, answer(res, math.Round(float64(time.Since(start).Microseconds())/100)/10))
	case <-ctx.Done():
		if r.Context().Err() != nil {
			w.WriteHeader(statusClientClosed)
			return
		}
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("recognition took longer than the %v limit", s.opts.RequestTimeout))
	}
}

// receive reads the upload, first and under its own deadline and memory
// budget (a request takes capacity only once its photo is here), then
// refuses what its header and markers alone can refuse before it waits for
// a worker behind real photos. On false the refusal has been written.
func (s *Server) receive(w http.ResponseWriter, r *http.Request, body *uploadBody) ([]byte, bool) {
	upload, status, msg := readUpload(r, body)
	body.done()
	switch status {
	case 0:
	case http.StatusServiceUnavailable:
		s.busy(w, msg)
		return nil, false
	case http.StatusRequestTimeout:
		w.Header().Set("Connection", "close") // the rest of the body may never come
		fallthrough
	default:
		writeError(w, status, msg)
		return nil, false
	}
	if err := data.CheckBudget(upload, "upload", s.budget()); err != nil {
		status, msg := imageErrorStatus(err)
		writeError(w, status, msg)
		return nil, false
	}
	return upload, true
}

// safely runs work with a panic turned into a 500: one bad photo must not
// take the server down.
func (s *Server) safely(ctx context.Context, upload []byte, work func(context.Context, []byte) recognized) (res recognized) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("recognizer panicked", "panic", fmt.Sprint(p))
			res = recognized{status: http.StatusInternalServerError, msg: "internal error while recognizing"}
		}
	}()
	return work(ctx, upload)
}

// recognize decodes the upload in memory and runs the recognizer.
func (s *Server) recognize(ctx context.Context, upload []byte) recognized {
	img, res := s.decodeUpload(ctx, upload)
	if res.status != 0 {
		return res
	}
	found, err := s.rec.Recognize(ctx, img)
	if err != nil {
		if ctx.Err() != nil {
			return recognized{status: http.StatusServiceUnavailable, msg: "timed out"}
		}
		s.log.Error("recognizer failed", "err", err)
		return recognized{status: http.StatusInternalServerError, msg: "recognition failed: " + err.Error()}
	}
	res.faces = normalize(found)
	return res
}

// budget is what decoding one upload may cost: MaxPixels, and for the
// decoder's own image as many bytes as MaxPixels 8-bit RGBA pixels.
func (s *Server) budget() data.Budget {
	return data.Budget{MaxPixels: s.opts.MaxPixels, MaxDecodedBytes: int64(s.opts.MaxPixels) * 4}
}

// normalize makes the recognizer's answer keep the API's promises whatever
// the implementation did: largest box first, "unknown" spelled out, and
// arrays never null.
func normalize(found []Face) []Face {
	out := make([]Face, len(found))
	copy(out, found)
	area := func(f Face) int64 { return int64(max(f.Box[2], 0)) * int64(max(f.Box[3], 0)) }
	slices.SortStableFunc(out, func(a, b Face) int { return -cmpInt64(area(a), area(b)) })
	for i := range out {
		if out[i].Unknown {
			out[i].Name = UnknownName
		}
		if out[i].Top == nil {
			out[i].Top = []Candidate{}
		}
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Server) tooBigMsg() string {
	return fmt.Sprintf("the upload is larger than the %s limit", humanBytes(s.opts.MaxBodyBytes))
}

func humanBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// imageErrorStatus maps a decoding failure to a status: bytes that are no
// image we read are 415, an image over the pixel limit 422, and a broken
// image of a known format 400.
func imageErrorStatus(err error) (int, string) {
	msg := err.Error()
	var ie *data.ImageError
	if errors.As(err, &ie) {
		msg = ie.Reason
	}
	switch {
	case errors.Is(err, data.ErrTooLarge):
		return http.StatusUnprocessableEntity, "the image is too large: " + msg
	case errors.Is(err, data.ErrTooCostly):
		return http.StatusUnprocessableEntity, "the image would cost too much to decode: " + msg
	case errors.Is(err, data.ErrUnsupported):
		return http.StatusUnsupportedMediaType, msg + "; send JPEG, PNG, GIF, BMP, TIFF or WebP"
	case errors.Is(err, data.ErrNotImage) && strings.HasPrefix(msg, "not an image"):
		// The leading bytes match no image format at all.
		return http.StatusUnsupportedMediaType, "not an image; send JPEG, PNG, GIF, BMP, TIFF or WebP"
	}
	return http.StatusBadRequest, "the image cannot be decoded: " + msg
}

// busy answers 503 with a Retry-After estimated from the work ahead.
func (s *Server) busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter()))
	writeError(w, http.StatusServiceUnavailable, msg)
}

// retryAfter is the seconds until the work now admitted should be done:
// the average service time times the requests per worker, 1 to 60.
func (s *Server) retryAfter() int {
	avg := time.Duration(s.serviceNanos.Load())
	ahead := float64(len(s.admitted)) / float64(s.opts.MaxConcurrent)
	secs := int(math.Ceil(avg.Seconds() * ahead))
	return min(max(secs, 1), 60)
}

// observe folds one service time into the moving average (weight 1/8; a
// lost update under contention only delays the estimate).
func (s *Server) observe(d time.Duration) {
	old := s.serviceNanos.Load()
	if old == 0 {
		s.serviceNanos.Store(int64(d))
		return
	}
	s.serviceNanos.Store(old + (int64(d)-old)/8)
}
