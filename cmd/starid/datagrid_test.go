package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/report"
	"starid/internal/testkit"
)

func gridCLI(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	c := newDataGridCmd()
	c.SetArgs(args)
	c.SetOut(&o)
	c.SetErr(&e)
	c.SilenceErrors, c.SilenceUsage = true, true
	err = c.Execute()
	return o.String(), e.String(), err
}

func TestDataGrid(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	photoFolder(t, photos)
	cases := []struct {
		args   []string
		images int
		cols   int
	}{
		// No --class: the first photo of each of the 3 classes.
		{[]string{photos}, 3, 4},
		// A class: its 4 photos.
		{[]string{photos, "--class", "green"}, 4, 4},
		// A smaller grid than the class: 2x1 shows the first 2.
		{[]string{photos, "--class", "red", "--cols", "2", "--rows", "1"}, 2, 2},
	}
	for i, c := range cases {
		out := filepath.Join(dir, "grid"+string(rune('a'+i))+".png")
		stdout, stderr, err := gridCLI(append(c.args, "--out", out)...)
		if err != nil {
			t.Fatalf("%v: %v (%s)", c.args, err, stderr)
		}
		if !strings.Contains(stdout, out) {
			t.Errorf("%v: stdout %q does not name the file", c.args, stdout)
		}
		img := testkit.ReadPNG(t, out)
		w, h := report.GridSize(c.images, c.cols)
		if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
			t.Errorf("%v: %dx%d, want %dx%d (%d images in %d columns)", c.args, b.Dx(), b.Dy(), w, h, c.images, c.cols)
		}
	}
}

func TestDataGridErrors(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	photoFolder(t, photos)
	_, _, err := gridCLI(photos, "--class", "purple", "--out", filepath.Join(dir, "g.png"))
	if err == nil || !strings.Contains(err.Error(), `no class "purple"`) || !strings.Contains(err.Error(), "blue, green, red") {
		t.Errorf("unknown class: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "g.png")); !os.IsNotExist(serr) {
		t.Error("a failed grid left a file")
	}
	for _, args := range [][]string{{}, {photos, "--cols", "0"}, {photos, "--rows", "65"}, {photos, photos}} {
		if _, _, err := gridCLI(args...); err == nil {
			t.Errorf("%v: no error", args)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("%v: %v is not a usage error", args, err)
		}
	}
	if _, _, err := gridCLI(filepath.Join(dir, "none")); err == nil {
		t.Error("missing folder: no error")
	}
	// An --out that is one of the photos is refused, and the photo kept.
	ents, err := os.ReadDir(filepath.Join(photos, "red"))
	if err != nil || len(ents) == 0 {
		t.Fatal(ents, err)
	}
	photo := filepath.Join(photos, "red", ents[0].Name())
	before, _ := os.ReadFile(photo)
	if _, _, err := gridCLI(photos, "--out", photo); err == nil || !strings.Contains(err.Error(), "would overwrite a photo") {
		t.Errorf("--out onto a photo: %v", err)
	}
	if after, _ := os.ReadFile(photo); !bytes.Equal(before, after) {
		t.Error("the photo changed")
	}
}

// TestDataGridBadOut: an --out that cannot be written is an input error that
// names the --out the user gave (not the temporary file behind it) and the
// problem, and leaves no temporary file behind.
func TestDataGridBadOut(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	photoFolder(t, photos)
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ out, want string }{
		{dir, dir + " is a folder; give a file name"},
		{filepath.Join(dir, "missing", "g.png"), "cannot create a file in folder " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{filepath.Join(file, "g.png"), "cannot create a file in folder " + file + ": not a directory"},
	} {
		code, _, stderr := runCLI("data", "grid", photos, "--out", tc.out)
		if code != exitInput || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, ".tmp-") {
			t.Errorf("--out %s: exit %d, stderr %q; want %d and %q", tc.out, code, stderr, exitInput, tc.want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Errorf("folder after the failures: %v %v; want only photos and file.txt", entries, err)
	}
}
