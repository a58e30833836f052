// Package serve is starid's HTTP front end: a web page, embedded in the
// binary, where a person drops a photo and sees every face boxed and named,
// and the JSON API behind it that other programs call.
//
// The server takes input from strangers, so its defaults are the safe ones:
// it binds loopback and answers only loopback names and IP addresses (no DNS
// rebinding), refuses cross-origin posts unless told to trust an origin,
// caps its open connections, reads at most MaxBodyBytes of an upload, in
// memory only and at a minimum rate, before the upload may take a queue slot,
// refuses an image whose header declares more than MaxPixels (or whose
// decoding would cost more than that many 8-bit pixels, or more scans than a
// photo has) before decoding a pixel, abandons a decode whose request is
// over, and runs at most MaxConcurrent recognitions with QueueLength more
// waiting; beyond that it answers 503 with Retry-After at once instead of
// letting work pile up.
//
// The models stay behind the Recognizer interface, so the server neither
// knows nor cares whether the names come from the face pipeline or from a
// whole-photo VGG model.
package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"starid/internal/faces"
	"starid/internal/recognize"
)

// Recognizer names the faces in a photo. Implementations must be safe for
// concurrent use: the server calls Recognize from up to MaxConcurrent
// goroutines at once.
type Recognizer interface {
	// Recognize returns every face in img, largest first; a photo without
	// faces gives an empty slice. It should return soon after ctx is
	// done; when it does not, the server answers the client anyway but
	// keeps the worker slot until Recognize returns, so a slow model can
	// never run more than MaxConcurrent recognitions at once.
	Recognize(ctx context.Context, img *faces.Image) ([]Face, error)
	// Info describes the model for GET /api/v1/model.
	Info() ModelInfo
}

// Face is one recognized face: the one answer schema of starid's JSON
// (recognize.Answer), so the API and `starid predict --json` agree. The
// server makes Name "unknown" whenever Unknown, so clients can rely on
// either field.
type Face = recognize.Answer

// Candidate is one name of a face's top list.
type Candidate = recognize.Candidate

// UnknownName is what Face.Name says for a face below the threshold, the
// word `starid predict` uses.
const UnknownName = "unknown"

// ModelInfo describes the model behind a Recognizer.
type ModelInfo struct {
	// Classes are the people the model knows, in its output order.
	Classes []string `json:"classes"`
	// Kind is the model name: "face" or one of the VGG16 family.
	Kind string `json:"kind"`
	// Threshold is the confidence below which a face is "unknown"; 0
	// means every face gets its best name.
	Threshold float64 `json:"threshold"`
}

// Gallery gives a small picture of each known person for the page. It may
// be nil, and it may lack some people; the page shows initials instead.
type Gallery interface {
	// Thumbnail returns an encoded image (JPEG, PNG, ...) of the person,
	// or ok=false when there is none.
	Thumbnail(name string) (img []byte, ok bool)
}

// GalleryMap is a Gallery held in memory: name → encoded image.
type GalleryMap map[string][]byte

// Thumbnail implements Gallery.
func (g GalleryMap) Thumbnail(name string) ([]byte, bool) {
	b, ok := g[name]
	return b, ok && len(b) > 0
}

// Options configures a Server. The zero value of each field means its
// default, so Options{} is a safe, loopback-only configuration.
type Options struct {
	// Addr is the listen address (default 127.0.0.1:8080: loopback, so a
	// laptop does not publish its model to the café's network by accident).
	Addr string
	// MaxBodyBytes bounds a request body (default 20 MiB); larger → 413.
	MaxBodyBytes int64
	// MaxPixels bounds width×height as the image header declares it
	// (default 25 MP); larger → 422 before any pixel is decoded. The
	// decoder's own image is held to MaxPixels×4 bytes too, so a 16-bit
	// image (8 bytes a pixel) may have half as many pixels. See
	// WorkerBytes for what a worker holds.
	MaxPixels int
	// RequestTimeout bounds one recognition request from its upload's
	// last byte, queueing included (default 30 s); the upload itself is
	// bounded by BodyTimeout and MinBodyRate.
	RequestTimeout time.Duration
	// MaxConcurrent is how many recognitions run at once (default 2). Each
	// one already spreads over every core, so more mostly costs memory.
	MaxConcurrent int
	// QueueLength is how many more requests may wait for a worker (default
	// 16; negative means none); beyond that the server answers 503. Only a
	// request whose upload is wholly in memory waits here.
	QueueLength int
	// BodyTimeout is how long an upload may take beyond the time its size
	// needs at MinBodyRate (default 10 s); slower → 408, and the request
	// never held a queue slot or a worker.
	BodyTimeout time.Duration
	// MinBodyRate is the slowest steady upload accepted, in bytes a second
	// (default 64 KiB/s: a 20 MB photo may take 5 minutes).
	MinBodyRate int64
	// UploadMemory bounds the bytes of all uploads in memory at once,
	// being received, queued or recognized (default the larger of 256 MiB
	// and 2×MaxBodyBytes); beyond it → 503.
	UploadMemory int64
	// MaxConns caps the open connections (default 1024). At the cap the
	// connection that has waited longest without a request in progress is
	// closed to make room, so idle connections can neither exhaust the file
	// descriptors nor lock new clients out.
	MaxConns int
	// AllowHosts are Host names answered besides loopback names and IP
	// addresses ("*": any). Others get 403, which stops DNS rebinding.
	AllowHosts []string
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// call the API; others' cross-origin posts get 403. See CheckOrigin.
	CORSOrigins []string
	// ShutdownTimeout bounds how long ListenAndServe waits for requests in
	// flight once its context is cancelled (default RequestTimeout + 5 s).
	ShutdownTimeout time.Duration
	// Logger receives one line per request and the server's own messages
	// (default: text on stderr).
	Logger *slog.Logger
	// Gallery supplies thumbnails of the known people (optional).
	Gallery Gallery
}

// Defaults for Options.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultMaxBodyBytes   = 20 << 20
	DefaultMaxPixels      = 25_000_000
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxConcurrent  = 2
	DefaultQueueLength    = 16
	DefaultBodyTimeout    = 10 * time.Second
	DefaultMinBodyRate    = 64 << 10
	DefaultMaxConns       = 1024
)

// Upper bounds of Options, above which a value is a mistake rather than a
// configuration (and, for the queue, would overflow a channel's size).
const (
	MaxMaxConcurrent = 1024
	MaxQueueLength   = 100_000
	MaxMaxConns      = 1 << 20
)

// CheckOrigin reports whether o can be one of Options.CORSOrigins. New
// panics on an origin it refuses.
func CheckOrigin(o string) error { return checkOrigin(o) }

// WorkerBytes is the memory one recognition may hold for an image of
// maxPixels pixels, measured with the face pipeline (see the RELIABILITY
// section of docs/BENCHMARKS.md): the decoder's image (at most 4 bytes a
// pixel under the decoding budget), the 8-bit RGBA copy (4) and the
// float32 RGB image the nets read (12).
func WorkerBytes(maxPixels int) int64 { return int64(maxPixels) * 20 }

// baseBytes is the server's memory before any upload: the face models,
// the page and the runtime.
const baseBytes = 256 << 20

// MemoryBudget is what a server with options o may hold at once: its base,
// every upload in memory, and each worker's image. starid serve makes it
// the runtime's soft memory limit.
func MemoryBudget(o Options) int64 {
	o = o.withDefaults()
	return baseBytes + o.UploadMemory + int64(o.MaxConcurrent)*WorkerBytes(o.MaxPixels)
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	o.MaxConcurrent = min(o.MaxConcurrent, MaxMaxConcurrent)
	switch {
	case o.QueueLength == 0:
		o.QueueLength = DefaultQueueLength
	case o.QueueLength < 0:
		o.QueueLength = 0
	}
	o.QueueLength = min(o.QueueLength, MaxQueueLength)
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.MinBodyRate <= 0 {
		o.MinBodyRate = DefaultMinBodyRate
	}
	if o.UploadMemory <= 0 {
		o.UploadMemory = max(256<<20, 2*o.MaxBodyBytes)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	o.MaxConns = min(o.MaxConns, MaxMaxConns)
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = o.RequestTimeout + 5*time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return o
}

// Server serves the page and the API for one Recognizer.
type Server struct {
	rec     Recognizer
	opts    Options
	log     *slog.Logger
	handler http.Handler

	// admitted holds a token for every request between admission and the
	// end of its recognition (queued or running): its capacity is
	// MaxConcurrent+QueueLength, and a full channel means 503 at once.
	admitted chan struct{}
	// workers holds a token per running recognition.
	workers chan struct{}
	// serviceNanos is a moving average of decode+recognize time, for
	// Retry-After.
	serviceNanos atomic.Int64
	// closing is set once shutdown starts, so /healthz stops saying ok and
	// a load balancer drains the instance.
	closing atomic.Bool
	// uploadBytes counts the upload bytes in memory (UploadMemory).
	uploadBytes atomic.Int64
	// bigSinceRelease is set when a large image was decoded since memory
	// was last handed back to the system (afterWork).
	bigSinceRelease atomic.Bool
	// force, closed by Close, cuts a graceful shutdown short.
	force     chan struct{}
	forceOnce sync.Once
}

// New returns a server for rec. It does not listen yet; see Handler and
// ListenAndServe.
func New(rec Recognizer, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		rec:      rec,
		opts:     opts,
		log:      opts.Logger,
		admitted: make(chan struct{}, opts.MaxConcurrent+opts.QueueLength),
		workers:  make(chan struct{}, opts.MaxConcurrent),
		force:    make(chan struct{}),
	}
	s.handler = s.logRequests(s.guard(s.routes()))
	return s
}

// Close makes a Serve that is draining (or about to) stop at once, cutting
// off the requests still in flight: a second Ctrl-C.
func (s *Server) Close() { s.forceOnce.Do(func() { close(s.force) }) }

// releaseAbove is the decoded size from which a recognition's memory is
// handed back to the system as soon as no other recognition runs.
const releaseAbove = 4_000_000

// afterWork hands freed memory back to the system after a large image once
// the server is idle. Without it the Go runtime keeps the pages of a 25 MP
// decode (hundreds of MB) until its next periodic collection, minutes
// later; with work still running, the next image reuses them anyway.
func (s *Server) afterWork(res recognized) {
	if res.pixels >= releaseAbove {
		s.bigSinceRelease.Store(true)
	}
	if len(s.workers) == 0 && s.bigSinceRelease.Swap(false) {
		debug.FreeOSMemory()
	}
}

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// Handler is the whole site: page, API and health check, with per-request
// logging. Use it to mount the server under a test server or another mux.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Options.Addr and serves until ctx is cancelled,
// then shuts down gracefully; see Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is cancelled. It then stops accepting
// connections, lets requests in flight finish (up to ShutdownTimeout) and
// returns nil; it returns an error only when serving or the shutdown fails.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	lim := newConnLimiter(ln, s.opts.MaxConns)
	ln = lim
	hs := &http.Server{
		ConnState: lim.track,
		Handler:   s.handler,
		// Slow clients must not hold connections open for free: headers
		// promptly, bodies at MinBodyRate (the recognize handler moves
		// the read deadline as its upload arrives; other routes read no
		// body and keep ReadTimeout).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10*time.Second + s.opts.BodyTimeout,
		WriteTimeout:      s.opts.RequestTimeout + 10*time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("serving", "addr", "http://"+ln.Addr().String(), "max_concurrent", s.opts.MaxConcurrent,
		"queue", s.opts.QueueLength, "max_body_bytes", s.opts.MaxBodyBytes, "max_pixels", s.opts.MaxPixels,
		"timeout", s.opts.RequestTimeout.String(), "max_conns", s.opts.MaxConns)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.closing.Store(true)
	s.log.Info("shutting down", "grace", s.opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	go func() {
		select {
		case <-s.force:
			s.log.Warn("stopping now: requests in flight are cut off")
			cancel()
		case <-sctx.Done():
		}
	}()
	err := hs.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	select {
	case <-s.force:
		hs.Close()
		s.log.Info("stopped")
		return nil // asked for: not an error
	default:
	}
	if err != nil {
		// Requests still running after the grace period are cut off.
		hs.Close()
		return err
	}
	s.log.Info("stopped")
	return nil
}
