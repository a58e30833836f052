package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
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
		{"serve"},
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

// TestServeCommand runs `starid serve` with a fake recognizer on a random
// loopback port, checks that the flags reach the server, and stops it with
// SIGTERM as a service manager would.
func TestServeCommand(t *testing.T) {
	var opened string
	oldOpen, oldListen := openRecognizer, serveListening
	t.Cleanup(func() { openRecognizer, serveListening = oldOpen, oldListen })
	openRecognizer = func(runDir string) (serve.Recognizer, error) {
		opened = runDir
		return fakeServeRecognizer{}, nil
	}
	addrs := make(chan net.Addr, 1)
	serveListening = func(a net.Addr) { addrs <- a }

	runDir := t.TempDir()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, o, e := runCLI("serve", runDir, "--addr", "127.0.0.1:0", "--max-body-mb", "0.5",
			"--max-megapixels", "0.001", "--log", "json", "--timeout", "5s")
		done <- result{code, o, e}
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case r := <-done:
		t.Fatalf("serve exited early: %d %s", r.code, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start listening")
	}
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

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{`"msg":"request"`, `"path":"/api/v1/recognize"`, `"status":413`, `"msg":"shutting down"`, "stopped after"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %s:\n%s", want, r.stderr)
		}
	}
}
