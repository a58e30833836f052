package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
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

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve RUN [--addr 127.0.0.1:8080] [--max-body-mb 20] [--max-megapixels 25] "+
		"[--max-concurrent 2] [--queue 16] [--timeout 30s] [--log text|json] [--gallery DIR]", stderr)
	addr := fs.String("addr", serve.DefaultAddr, "listen address; the default is loopback only, use 0.0.0.0:PORT to publish")
	maxBodyMB := fs.Float64("max-body-mb", serve.DefaultMaxBodyBytes>>20, "largest upload in MB (larger: 413)")
	maxMP := fs.Float64("max-megapixels", serve.DefaultMaxPixels/1e6, "largest image in megapixels, from its header (larger: 422)")
	maxConc := fs.Int("max-concurrent", serve.DefaultMaxConcurrent, "recognitions run at once")
	queue := fs.Int("queue", serve.DefaultQueueLength, "requests that may wait for a worker; beyond that 503 + Retry-After")
	timeout := fs.Duration("timeout", serve.DefaultRequestTimeout, "limit per recognition request, queueing included")
	logFormat := fs.String("log", "text", "request log format on stderr: text or json")
	gallery := fs.String("gallery", "", "photo folder laid out as for training (DIR/NAME/*.jpg): the page shows a thumbnail of each known person's face from it")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("want exactly one run directory")
	case *maxBodyMB <= 0:
		return usagef("--max-body-mb must be positive")
	case *maxMP <= 0:
		return usagef("--max-megapixels must be positive")
	case *maxConc < 1:
		return usagef("--max-concurrent must be at least 1")
	case *queue < 0:
		return usagef("--queue must not be negative")
	case *timeout <= 0:
		return usagef("--timeout must be positive")
	case !oneOf(*logFormat, "text", "json"):
		return usagef("--log must be text or json, not %q", *logFormat)
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	rec, err := openRecognizer(pos[0])
	if err != nil {
		return err
	}
	var thumbs serve.Gallery
	if *gallery != "" {
		finder, err := openFaceFinder()
		if err != nil {
			fmt.Fprintf(stderr, "gallery: no face pipeline (%v); thumbnails show the top-middle of each photo\n", err)
			finder = nil
		}
		g, err := loadGallery(*gallery, rec.Info().Classes, finder, stderr)
		if err != nil {
			return err
		}
		thumbs = g
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
		Logger:         logger,
		Gallery:        thumbs,
	})

	// Signals first, so a SIGTERM that arrives as soon as the port is open
	// already means "drain and stop".
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
