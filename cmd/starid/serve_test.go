package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"starid/internal/faces"
	"starid/internal/serve"
)

// fakeServeRecognizer names one face in the middle of every photo.
type fakeServeRecognizer struct{}

func (fakeServeRecognizer) Recognize(_ context.Context, img *faces.Image) ([]serve.Face, error) {
	return []serve.Face{{Box: [4]int{img.W / 4, img.H / 4, img.W / 2, img.H / 2}, Name: "Tom Hanks", Confidence: 0.9,
		Top: []serve.Candidate{{Name: "Tom Hanks", Probability: 0.9}}}}, nil
}

func (fakeServeRecognizer) Info() serve.ModelInfo {
	return serve.ModelInfo{Classes: []string{"Meryl Streep", "Tom Hanks"}, Kind: "face", Threshold: 0.5}
}

func TestServeNotARun(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := runCLI("serve", dir)
	if code != exitInput || !strings.Contains(errOut, "model.json") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", dir, "other"},
		{"serve", dir, "--max-concurrent", "0"},
		{"serve", dir, "--queue", "-1"},
		{"serve", dir, "--max-body-mb", "0"},
		{"serve", dir, "--max-megapixels", "-2"},
		{"serve", dir, "--timeout", "0s"},
		{"serve", dir, "--log", "xml"},
		{"serve", dir, "--bogus"},
	} {
		if code, _, errOut := runCLI(args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

func TestServeFlagRanges(t *testing.T) {
	// Issue 17 row 11: these were silently replaced by the defaults, and
	// the last one panicked. Each must be refused naming the flag and its
	// range, before the run is opened.
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-body-mb", "0.0000001"}, "--max-body-mb must be between 0.001 and 1024"},
		{[]string{"--max-body-mb", "1e14"}, "--max-body-mb must be between 0.001 and 1024"},
		{[]string{"--max-body-mb", "NaN"}, "--max-body-mb must be between"},
		{[]string{"--max-megapixels", "1e-9"}, "--max-megapixels must be between 0.0001 and 250"},
		{[]string{"--max-megapixels", "+Inf"}, "--max-megapixels must be between"},
		{[]string{"--queue", "9223372036854775807"}, "--queue must be between 0 and 100000"},
		{[]string{"--max-concurrent", "100000"}, "--max-concurrent must be between 1 and 1024"},
		{[]string{"--timeout", "1000h"}, "--timeout must be"},
		{[]string{"--body-timeout", "0s"}, "--body-timeout must be"},
		{[]string{"--max-conns", "0"}, "--max-conns must be between 1 and"},
		{[]string{"--cors", "https://app.example/page"}, "--cors"},
		{[]string{"--allow-host", ""}, "allow-host"},
	} {
		code, _, errOut := runCLI(append([]string{"serve", dir}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// blockingRecognizer never returns until released, whatever its context
// says: a model stuck in a long computation.
type blockingRecognizer struct {
	fakeServeRecognizer
	started, release chan struct{}
}

func (b blockingRecognizer) Recognize(context.Context, *faces.Image) ([]serve.Face, error) {
	b.started <- struct{}{}
	<-b.release
	return nil, nil
}

func TestServeSecondSignalStopsNow(t *testing.T) {
	// Issue 17 row 13: during the drain after Ctrl-C, a second Ctrl-C
	// must stop the server instead of waiting for the request in flight.
	rec := blockingRecognizer{started: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(rec.release)
	base, _, stop := startServeWith(t, rec, t.TempDir(), "--timeout", "1h")
	go func() {
		if resp, err := http.Post(base+"/api/v1/recognize", "image/png", bytes.NewReader(tinyPNG())); err == nil {
			resp.Body.Close()
		}
	}()
	<-rec.started
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Once draining (healthz says so), the second signal.
	for {
		resp, err := http.Get(base + "/healthz")
		if err != nil || resp.StatusCode == http.StatusServiceUnavailable {
			if err == nil {
				resp.Body.Close()
			}
			break
		}
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond)
	}
	r := stop() // SIGTERM again; fails the test unless serve ends within 10 s
	if r.code != exitOK || !strings.Contains(r.stderr, "Ctrl-C again to stop now") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

func tinyPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)))
	return b.Bytes()
}

// serveResult is how a `starid serve` run ended.
type serveResult struct {
	code           int
	stdout, stderr string
}

// startServe runs `starid serve args...` with a fake recognizer on a random
// loopback port. It returns the base URL, the run directory the command
// opened, and a stop function that sends SIGTERM, as a service manager
// would, and waits for the command to end.
func startServe(t *testing.T, args ...string) (base, opened string, stop func() serveResult) {
	t.Helper()
	return startServeWith(t, fakeServeRecognizer{}, args...)
}

// startServeWith is startServe with the recognizer rec.
func startServeWith(t *testing.T, rec serve.Recognizer, args ...string) (base, opened string, stop func() serveResult) {
	t.Helper()
	substitute(t, &openRecognizer, func(runDir string, _ faces.DetectorChoice, _ *slog.Logger) (serve.Recognizer, error) {
		opened = runDir
		return rec, nil
	})
	addrs := make(chan net.Addr, 1)
	substitute(t, &serveListening, func(a net.Addr) { addrs <- a })
	done := make(chan serveResult, 1)
	go func() {
		code, o, e := runCLI(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
		done <- serveResult{code, o, e}
	}()
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case r := <-done:
		t.Fatalf("serve exited early: %d %s", r.code, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start listening")
	}
	stop = func() serveResult {
		t.Helper()
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("serve did not stop on SIGTERM")
		}
		return serveResult{}
	}
	return base, opened, stop
}

// TestServeCommand checks that the flags reach the server and that SIGTERM
// stops it.
func TestServeCommand(t *testing.T) {
	runDir := t.TempDir()
	base, opened, stop := startServe(t, runDir, "--max-body-mb", "0.5",
		"--max-megapixels", "0.001", "--log", "json", "--timeout", "5s")
	if opened != runDir {
		t.Errorf("opened %q, want %q", opened, runDir)
	}

	resp, err := http.Get(base + "/api/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var model struct {
		Classes        []string `json:"classes"`
		MaxUploadBytes int64    `json:"max_upload_bytes"`
		MaxPixels      int      `json:"max_pixels"`
	}
	json.NewDecoder(resp.Body).Decode(&model)
	resp.Body.Close()
	if len(model.Classes) != 2 || model.MaxUploadBytes != 512<<10 || model.MaxPixels != 1000 {
		t.Errorf("model %+v", model)
	}

	photo := func(w, h int) []byte {
		var b bytes.Buffer
		png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)))
		return b.Bytes()
	}
	for _, c := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"small photo", photo(40, 20), 200},
		{"over --max-megapixels", photo(40, 30), 422},
		{"over --max-body-mb", bytes.Repeat([]byte("x"), 600<<10), 413},
	} {
		resp, err := http.Post(base+"/api/v1/recognize", "image/png", bytes.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, b)
		}
		if c.status == 200 && !strings.Contains(string(b), `"box":[10,5,20,10]`) {
			t.Errorf("%s: %s", c.name, b)
		}
	}

	r := stop()
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{`"msg":"request"`, `"path":"/api/v1/recognize"`, `"status":413`, `"msg":"shutting down"`, "stopped after"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %s:\n%s", want, r.stderr)
		}
	}
}

// TestServeGallery: --gallery makes the page's thumbnails from a photo
// folder (here without face models: the fake pipeline is refused), and a
// known person without a photo is named at start.
func TestServeGallery(t *testing.T) {
	substitute(t, &openFaceFinder, func(faces.DetectorChoice) (faceFinder, error) { return nil, errors.New("no models here") })
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "Tom Hanks", "1.png"), 30, 20, color.RGBA{200, 100, 50, 255}, 1)

	base, _, stop := startServe(t, t.TempDir(), "--gallery", dir)
	resp, err := http.Get(base + "/api/v1/gallery/Tom%20Hanks")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("Tom Hanks: status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if c := thumbCentre(t, "Tom Hanks", b); !near(c, color.RGBA{210, 110, 60, 255}) {
		t.Errorf("thumbnail centre %v", c)
	}
	if resp, err := http.Get(base + "/api/v1/gallery/Meryl%20Streep"); err != nil || resp.StatusCode != 404 {
		t.Errorf("Meryl Streep (no photo): %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	r := stop()
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"no models here", "1 of 2 people: Meryl Streep"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}

	if code, _, errOut := runCLI("serve", t.TempDir(), "--gallery", filepath.Join(dir, "missing")); code != exitInput ||
		!strings.Contains(errOut, "missing") {
		t.Errorf("a missing --gallery folder: exit %d, stderr %q", code, errOut)
	}
}
