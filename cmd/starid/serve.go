package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"starid/internal/serve"
)

func init() {
	register("serve", "a web page and JSON API that name the faces in uploaded photos", runServe)
}

// openRecognizer loads the model of a run directory for the server
// (openRunRecognizer); tests substitute a fake.
var openRecognizer = openRunRecognizer

// serveListening, when set, is told the bound address once the server
// listens (tests use --addr 127.0.0.1:0).
var serveListening func(addr net.Addr)

// Ranges of the serve flags: values outside them are mistakes (a 0.1-byte
// upload limit, a queue that overflows memory), refused with the range
// rather than quietly replaced by a default.
var (
	maxBodyMBRange = [2]float64{0.001, 1024} // up to data.MaxFileBytes
	maxMPRange     = [2]float64{0.0001, 250} // 100 pixels to 250 MP (5 GB of working memory per worker)
)

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [RUN] [--addr 127.0.0.1:8080] [--max-body-mb 20] [--max-megapixels 25] "+
		"[--max-concurrent 2] [--queue 16] [--timeout 30s] [--body-timeout 10s] [--max-conns 1024] "+
		"[--allow-host NAME]... [--cors ORIGIN]... [--log text|json] [--gallery DIR]", stderr)
	addr := fs.String("addr", serve.DefaultAddr, "listen address; the default is loopback only, use 0.0.0.0:PORT to publish")
	maxBodyMB := fs.Float64("max-body-mb", serve.DefaultMaxBodyBytes>>20, "largest upload in MB (larger: 413)")
	maxMP := fs.Float64("max-megapixels", serve.DefaultMaxPixels/1e6, "largest image in megapixels, from its header (larger: 422)")
	maxConc := fs.Int("max-concurrent", serve.DefaultMaxConcurrent, "recognitions run at once")
	queue := fs.Int("queue", serve.DefaultQueueLength, "uploads received whole that may wait for a worker; beyond that 503 + Retry-After")
	timeout := fs.Duration("timeout", serve.DefaultRequestTimeout, "limit per recognition, from the upload's last byte, queueing included")
	bodyTimeout := fs.Duration("body-timeout", serve.DefaultBodyTimeout, "time an upload may take beyond 1 s per 64 KB (slower: 408)")
	maxConns := fs.Int("max-conns", serve.DefaultMaxConns, "open connections at most; more wait to be accepted")
	var allowHosts, corsOrigins stringList
	fs.Var(&allowHosts, "allow-host", "a Host name to answer besides loopback names and IP addresses (repeatable; '*' for any, e.g. behind a proxy that checks it)")
	fs.Var(&corsOrigins, "cors", "an origin (https://host[:port]) whose pages may call the API from the browser (repeatable)")
	logFormat := fs.String("log", "text", "request log format on stderr: text or json")
	gallery := fs.String("gallery", "", "photo folder laid out as for training (DIR/NAME/*.jpg): the page shows a thumbnail of each known person's face from it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("want one run directory, or none for the built-in model")
	}
	if err := checkServeFlags(*maxBodyMB, *maxMP, *maxConc, *queue, *timeout, *bodyTimeout, *maxConns); err != nil {
		return err
	}
	for _, o := range corsOrigins {
		if err := serve.CheckOrigin(o); err != nil {
			return usagef("--cors: %v", err)
		}
	}
	if !oneOf(*logFormat, "text", "json") {
		return usagef("--log must be text or json, not %q", *logFormat)
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	rec, err := openServeModel(pos, stderr)
	if err != nil {
		return err
	}
	thumbs, err := openServeGallery(*gallery, rec, stderr)
	if err != nil {
		return err
	}
	q := *queue
	if q == 0 {
		q = -1 // Options reads 0 as "default"; the flag's 0 means no queue
	}
	srv := serve.New(rec, serve.Options{
		Addr:           *addr,
		MaxBodyBytes:   int64(*maxBodyMB * (1 << 20)),
		MaxPixels:      int(*maxMP * 1e6),
		RequestTimeout: *timeout,
		MaxConcurrent:  *maxConc,
		QueueLength:    q,
		BodyTimeout:    *bodyTimeout,
		MaxConns:       *maxConns,
		AllowHosts:     allowHosts,
		CORSOrigins:    corsOrigins,
		Logger:         logger,
		Gallery:        thumbs,
	})
	setServeMemoryLimit(srv.Options(), logger)

	// Signals first, so a SIGTERM that arrives as soon as the port is open
	// already means "drain and stop"; a second one stops at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go onSignals(sigs, finished, stop, srv, stderr)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		logger.Warn("listening beyond this machine: anyone who can reach the address can use the model", "addr", ln.Addr().String())
	}
	fmt.Fprintf(stderr, "starid serve: open http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	if serveListening != nil {
		serveListening(ln.Addr())
	}
	start := time.Now()
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "starid serve: stopped after %v\n", time.Since(start).Round(time.Second))
	return nil
}

// onSignals turns the first signal into a graceful stop (cancelling the
// serving context) and a second into an immediate one; it returns once
// the command has finished.
func onSignals(sigs <-chan os.Signal, finished <-chan struct{}, stop context.CancelFunc, srv *serve.Server, stderr io.Writer) {
	select {
	case <-sigs:
	case <-finished:
		return
	}
	fmt.Fprintln(stderr, "starid serve: finishing the requests in flight (Ctrl-C again to stop now)")
	stop()
	select {
	case <-sigs:
		srv.Close()
	case <-finished:
	}
}

// checkServeFlags refuses values outside each flag's range, naming the flag
// and the range. The comparisons are written so that NaN fails them too.
func checkServeFlags(maxBodyMB, maxMP float64, maxConc, queue int, timeout, bodyTimeout time.Duration, maxConns int) error {
	inRange := func(v float64, r [2]float64) bool { return v >= r[0] && v <= r[1] }
	switch {
	case !inRange(maxBodyMB, maxBodyMBRange):
		return usagef("--max-body-mb must be between %g and %g (MB), not %g", maxBodyMBRange[0], maxBodyMBRange[1], maxBodyMB)
	case !inRange(maxMP, maxMPRange):
		return usagef("--max-megapixels must be between %g and %g, not %g", maxMPRange[0], maxMPRange[1], maxMP)
	case maxConc < 1 || maxConc > serve.MaxMaxConcurrent:
		return usagef("--max-concurrent must be between 1 and %d, not %d", serve.MaxMaxConcurrent, maxConc)
	case queue < 0 || queue > serve.MaxQueueLength:
		return usagef("--queue must be between 0 and %d, not %d", serve.MaxQueueLength, queue)
	case timeout <= 0 || timeout > time.Hour:
		return usagef("--timeout must be more than 0 and at most 1h, not %v", timeout)
	case bodyTimeout <= 0 || bodyTimeout > time.Hour:
		return usagef("--body-timeout must be more than 0 and at most 1h, not %v", bodyTimeout)
	case maxConns < 1 || maxConns > serve.MaxMaxConns:
		return usagef("--max-conns must be between 1 and %d, not %d", serve.MaxMaxConns, maxConns)
	}
	return nil
}

// setServeMemoryLimit gives the Go runtime a soft memory limit from what
// the options let the server hold (serve.MemoryBudget), unless GOMEMLIMIT
// already sets one: near it the collector runs sooner, so garbage from
// finished images is not left to pile up beside the next ones.
func setServeMemoryLimit(o serve.Options, logger *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := serve.MemoryBudget(o)
	debug.SetMemoryLimit(limit)
	logger.Info("memory budget", "soft_limit_mb", limit>>20)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// openServeGallery loads --gallery's thumbnails (nil without the flag).
func openServeGallery(dir string, rec serve.Recognizer, stderr io.Writer) (serve.Gallery, error) {
	if dir == "" {
		return nil, nil
	}
	finder, err := openFaceFinder()
	if err != nil {
		fmt.Fprintf(stderr, "gallery: no face pipeline (%v); thumbnails show the top-middle of each photo\n", err)
		finder = nil
	}
	g, err := loadGallery(dir, rec.Info().Classes, finder, stderr)
	if err != nil {
		return nil, err
	}
	return g, nil
}
