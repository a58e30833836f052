package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"starid/internal/faces"
	"starid/internal/recognize"
	"starid/internal/serve"
)

func init() { addCommand(newServeCmd) }

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

// serveOptions are serve's flags; most bind straight into serve.Options.
type serveOptions struct {
	serve.Options
	logFormat, gallery string
	db, uploads        string
	maxBodyMB, maxMP   float64
	detector           faces.DetectorChoice
}

func newServeCmd() *cobra.Command {
	var o serveOptions
	c := command("serve [RUN] [--db DB]", "a web page and JSON API that name the faces in uploaded photos", func(c *cobra.Command, args []string) error { return o.run(args, c.ErrOrStderr()) })
	c.Long = `A web page and JSON API that name the faces in uploaded photos with a
run's model; without a run, with the built-in model of the tutorial's 17
stars (or your copy of it that enroll made), or with --db after the
library's people.`
	f := c.Flags()
	f.StringVar(&o.Addr, "addr", serve.DefaultAddr, "listen address; the default is loopback only, use 0.0.0.0:PORT to publish")
	f.Float64Var(&o.maxBodyMB, "max-body-mb", serve.DefaultMaxBodyBytes>>20, "largest upload in MB (larger: 413)")
	f.Float64Var(&o.maxMP, "max-megapixels", serve.DefaultMaxPixels/1e6, "largest image in megapixels, from its header (larger: 422)")
	f.IntVar(&o.MaxConcurrent, "max-concurrent", serve.DefaultMaxConcurrent, "recognitions run at once")
	f.IntVar(&o.QueueLength, "queue", serve.DefaultQueueLength, "uploads received whole that may wait for a worker; beyond that 503 + Retry-After")
	f.DurationVar(&o.RequestTimeout, "timeout", serve.DefaultRequestTimeout, "limit per recognition, from the upload's last byte, queueing included")
	f.DurationVar(&o.BodyTimeout, "body-timeout", serve.DefaultBodyTimeout, "time an upload may take beyond 1 s per 64 KB (slower: 408)")
	f.IntVar(&o.MaxConns, "max-conns", serve.DefaultMaxConns, "open connections at most; more wait to be accepted")
	f.StringArrayVar(&o.AllowHosts, "allow-host", nil, "a Host `name` to answer besides loopback names and IP addresses (repeatable; '*' for any, e.g. behind a proxy that checks it)")
	f.StringArrayVar(&o.CORSOrigins, "cors", nil, "an `origin` (https://host[:port]) whose pages may call the API from the browser (repeatable)")
	f.StringVar(&o.logFormat, "log", "text", "request log format on stderr: text or json")
	f.StringVar(&o.db, "db", "", "photo library (SQLite file or postgres:// URL): the page and API get its people, search and uploads into it; RUN is then optional")
	f.StringVar(&o.uploads, "uploads", "", "`folder` keeping photos uploaded to the library (default: the library's own, x.uploads beside x.db; for PostgreSQL, in the user's data folder, named after the server and database)")
	detectorFlag(f, &o.detector)
	f.StringVar(&o.gallery, "gallery", "", "photo `folder` laid out as for training (DIR/NAME/*.jpg): the page shows a thumbnail of each known person's face from it")
	return c
}

func (o *serveOptions) run(pos []string, stderr io.Writer) error {
	if len(pos) > 1 {
		return usagef("want one run directory, or none (the built-in model, or with --db the library's people)")
	}
	if len(pos) == 0 && o.db != "" && o.gallery != "" {
		return usagef("--gallery shows the people a run knows: give the run directory")
	}
	if err := o.check(); err != nil {
		return err
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if o.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	logger := slog.New(handler)

	var rec serve.Recognizer // nil: named after the library's people
	var thumbs serve.Gallery
	var err error
	switch {
	case len(pos) == 1:
		rec, err = openRecognizer(pos[0], o.detector, logger)
	case o.db == "":
		rec, err = openDefaultRecognizer(o.detector, logger, stderr)
	}
	if err != nil {
		return err
	}
	if rec != nil {
		if thumbs, err = openServeGallery(o.gallery, rec, o.detector, stderr); err != nil {
			return err
		}
	}
	if o.db != "" {
		if o.Library, err = openServeLibrary(context.Background(), o.db, o.uploads, o.detector, stderr); err != nil {
			return err
		}
		defer o.Library.Store.Close()
	}
	o.MaxBodyBytes, o.MaxPixels = int64(o.maxBodyMB*(1<<20)), int(o.maxMP*1e6)
	if o.QueueLength == 0 {
		o.QueueLength = -1 // Options reads 0 as "default"; the flag's 0 means no queue
	}
	o.Logger, o.Gallery = logger, thumbs
	srv := serve.New(rec, o.Options)
	return srv.ListenAndServeUntilSignal(serveListening, stderr)
}

// check refuses values outside each flag's range, naming the flag and the
// range. The comparisons are written so that NaN fails them too.
func (o *serveOptions) check() error {
	inRange := func(v float64, r [2]float64) bool { return v >= r[0] && v <= r[1] }
	switch {
	case !inRange(o.maxBodyMB, maxBodyMBRange):
		return usagef("--max-body-mb must be between %g and %g (MB), not %g", maxBodyMBRange[0], maxBodyMBRange[1], o.maxBodyMB)
	case !inRange(o.maxMP, maxMPRange):
		return usagef("--max-megapixels must be between %g and %g, not %g", maxMPRange[0], maxMPRange[1], o.maxMP)
	case !oneOf(o.logFormat, "text", "json"):
		return usagef("--log must be text or json, not %q", o.logFormat)
	}
	if err := o.CheckFlags(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// openServeGallery loads --gallery's thumbnails (nil without the flag),
// their faces found with the detector d.
func openServeGallery(dir string, rec serve.Recognizer, d faces.DetectorChoice, stderr io.Writer) (serve.Gallery, error) {
	if dir == "" {
		return nil, nil
	}
	finder, err := openFaceFinder(d)
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

// loadGallery is `serve --gallery DIR`: one thumbnail per person
// (recognize.Gallery); finder may be nil.
func loadGallery(dir string, classes []string, finder faceFinder, stderr io.Writer) (serve.GalleryMap, error) {
	var f recognize.Finder
	if finder != nil {
		f = finder
	}
	g, err := recognize.Gallery(dir, classes, f, stderr)
	return serve.GalleryMap(g), err
}

// serveTopK is how many candidates the server lists per face (the page
// shows three).
const serveTopK = 5

// openRunRecognizer serves a run directory (serve.OpenRun, which follows
// the run so that enrolments reach a running server): a face run names
// every face the pipeline finds; a whole-photo VGG run names the photo as
// one "face" whose box is the whole photo, as predict does. The face nets
// load up front so that a missing model fails at start, not on the first
// upload; they find faces with the detector d.
func openRunRecognizer(dir string, d faces.DetectorChoice, logger *slog.Logger) (serve.Recognizer, error) {
	return serve.OpenRun(dir, recognize.Options{TopK: serveTopK, OpenFinder: recognizeFinder(d)}, logger)
}

// openDefaultRecognizer serves the default model, following enroll's
// changes to it (recognize.OpenDefaultReloading), saying which.
func openDefaultRecognizer(d faces.DetectorChoice, logger *slog.Logger, stderr io.Writer) (serve.Recognizer, error) {
	opt := recognize.Options{TopK: serveTopK, OpenFinder: recognizeFinder(d)}
	r, err := recognize.OpenDefaultReloading(opt, serve.ReloadLogger(logger, "the default model"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(stderr, recognize.DefaultNote(r))
	return serve.FromRecognizer(r), nil
}

// recognizeFinder is openFaceFinder with the detector d, for
// recognize.Options.
func recognizeFinder(d faces.DetectorChoice) func() (recognize.Finder, error) {
	return func() (recognize.Finder, error) { return openFaceFinder(d) }
}
