package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWithLibrary: serve --db without a run adds uploads to the
// library (kept under --uploads), groups their faces, and names faces
// after the people named in it.
func TestServeWithLibrary(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	db, uploads := filepath.Join(dir, "lib.db"), filepath.Join(dir, "kept")
	base, _, stop := startServe(t, "--db", db, "--uploads", uploads)

	var photo bytes.Buffer
	png.Encode(&photo, image.NewGray(image.Rect(0, 0, 40, 20))) // two faces for the fake finder
	resp, err := http.Post(base+"/api/v1/library/photos", "image/png", bytes.NewReader(photo.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var added struct {
		Faces []struct {
			PersonID string `json:"person_id"`
		} `json:"faces"`
	}
	json.NewDecoder(resp.Body).Decode(&added)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(added.Faces) != 2 || added.Faces[0].PersonID == "" || added.Faces[0].PersonID != added.Faces[1].PersonID {
		t.Fatalf("upload to the library: %d %+v", resp.StatusCode, added)
	}
	if kept, _ := filepath.Glob(filepath.Join(uploads, "*", "*.png")); len(kept) != 1 {
		t.Errorf("kept uploads: %v", kept)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/people/"+added.Faces[0].PersonID+"/name", strings.NewReader(`{"name":"Ann"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("naming: %v %v", resp, err)
	}
	resp, err = http.Get(base + "/api/v1/model")
	if err != nil {
		t.Fatal(err)
	}
	var model struct {
		Kind    string   `json:"kind"`
		Classes []string `json:"classes"`
		Library bool     `json:"library"`
	}
	json.NewDecoder(resp.Body).Decode(&model)
	resp.Body.Close()
	if model.Kind != "library" || !model.Library || strings.Join(model.Classes, ",") != "Ann" {
		t.Errorf("model %+v", model)
	}
	if r := stop(); r.code != exitOK || !strings.Contains(r.stderr, "library "+db) {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(db); err != nil {
		t.Error(err)
	}
}

func TestServeLibraryUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--db", filepath.Join(dir, "lib.db"), "--gallery", dir},
		{"serve", dir, dir, "--db", filepath.Join(dir, "lib.db")},
	} {
		if code, _, errOut := runCLI(args...); code != exitUsage || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestServeLibrariesKeepTheirOwnUploads: without --uploads, two libraries
// in one folder keep their uploads apart, each in a folder named after
// its file (x.db: x.uploads), not one shared "uploads".
func TestServeLibrariesKeepTheirOwnUploads(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	for i, name := range []string{"x", "y"} {
		base, _, stop := startServe(t, "--db", filepath.Join(dir, name+".db"))
		var photo bytes.Buffer
		png.Encode(&photo, image.NewGray(image.Rect(0, 0, 40+i, 20)))
		resp, err := http.Post(base+"/api/v1/library/photos", "image/png", &photo)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r := stop()
		want := filepath.Join(dir, name+".uploads")
		if resp.StatusCode != 200 || !strings.Contains(r.stderr, "uploads kept in "+want) {
			t.Fatalf("%s.db: upload %d; %s", name, resp.StatusCode, r.stderr)
		}
		if kept, _ := filepath.Glob(filepath.Join(want, "*", "*.png")); len(kept) != 1 {
			t.Errorf("%s: kept %v", want, kept)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "uploads")); err == nil {
		t.Error("a shared uploads folder was made")
	}
}

// TestServeUploadsNotAFolder: an --uploads that cannot be a folder stops
// serve at the start (exit 2, naming it), not at the first upload.
func TestServeUploadsNotAFolder(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "lib.db"), "--uploads", filepath.Join(file, "sub"))
	if code != exitInput || !strings.Contains(errOut, "--uploads "+filepath.Join(file, "sub")) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
