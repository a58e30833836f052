package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataFolder makes an ImageFolder with 2 PNGs of class a (one 10x6, one
// 30x20), one of class b (20x40), a duplicate of a's first in b, and a
// zero-byte file.
func dataFolder(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	put := func(rel string, w, h int) []byte {
		var b bytes.Buffer
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = uint8(i * 7)
		}
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		dataTestWrite(t, filepath.Join(root, rel), b.Bytes())
		return b.Bytes()
	}
	first := put("a/1.png", 10, 6)
	put("a/2.png", 30, 20)
	put("b/1.png", 20, 40)
	dataTestWrite(t, filepath.Join(root, "b", "copy.png"), first)
	dataTestWrite(t, filepath.Join(root, "b", "empty.jpg"), nil)
	return root
}

func dataTestWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDataStatsJSON(t *testing.T) {
	root := dataFolder(t)
	code, out, errOut := runCLI("data", "stats", "--json", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var st struct {
		Root    string `json:"root"`
		Images  int    `json:"images"`
		Classes []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"classes"`
		Width      struct{ Min, Median, Max int }  `json:"width"`
		Height     struct{ Min, Median, Max int }  `json:"height"`
		Skipped    []struct{ Path, Reason string } `json:"skipped"`
		Duplicates [][]string                      `json:"duplicates"`
		CrossClass [][]string                      `json:"cross_class_duplicates"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if st.Root != root || st.Images != 4 || len(st.Classes) != 2 || st.Classes[0].Name != "a" || st.Classes[0].Count != 2 ||
		st.Classes[1].Count != 2 {
		t.Errorf("summary %+v", st)
	}
	if st.Width.Min != 10 || st.Width.Median != 10 || st.Width.Max != 30 || st.Height.Min != 6 || st.Height.Median != 6 || st.Height.Max != 40 {
		t.Errorf("sizes %+v %+v", st.Width, st.Height)
	}
	if len(st.CrossClass) != len(st.Duplicates) {
		t.Errorf("cross-class duplicates %v, want the %d groups that span a and b", st.CrossClass, len(st.Duplicates))
	}
	if len(st.Skipped) != 1 || !strings.HasSuffix(st.Skipped[0].Path, "empty.jpg") || st.Skipped[0].Reason != "zero-byte file" {
		t.Errorf("skipped %+v", st.Skipped)
	}
	if len(st.Duplicates) != 1 || len(st.Duplicates[0]) != 2 || !strings.HasSuffix(st.Duplicates[0][1], "copy.png") {
		t.Errorf("duplicates %v", st.Duplicates)
	}
}

func TestDataStatsText(t *testing.T) {
	root := dataFolder(t)
	code, out, errOut := runCLI("data", "stats", root)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"4 images in 2 classes", "      2  a\n", "min    10  median    10  max    30",
		"skipped: 1", "empty.jpg: zero-byte file", "duplicate groups (identical bytes): 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDataErrors(t *testing.T) {
	broken := t.TempDir()
	dataTestWrite(t, filepath.Join(broken, "a", "x.jpg"), []byte("text"))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"data", "stats", filepath.Join(t.TempDir(), "missing")}, exitInput, "no such file"},
		{[]string{"data", "stats", t.TempDir()}, exitInput, "no class sub-folders"},
		{[]string{"data", "stats", broken}, exitInput, "no usable images"},
		{[]string{"data", "stats"}, exitUsage, "exactly one image folder"},
		{[]string{"data", "stats", "a", "b"}, exitUsage, "exactly one image folder"},
		{[]string{"data", "stats", "--bogus", "a"}, exitUsage, "bogus"},
		{[]string{"data"}, exitUsage, "missing sub-command"},
		{[]string{"data", "frobnicate"}, exitUsage, "unknown sub-command"},
		// synth never writes into a folder that holds anything, nor onto a file.
		{[]string{"data", "synth", broken}, exitInput, broken + " is not empty (it has a)"},
		{[]string{"data", "synth", filepath.Join(broken, "a", "x.jpg")}, exitInput, "x.jpg exists and is not a folder"},
		{[]string{"data", "synth", filepath.Join(t.TempDir(), "new"), "--classes", "1"}, exitUsage, "classes must be 2.."},
	} {
		code, _, errOut := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// The refused synth left the folder as it was.
	if entries, err := os.ReadDir(broken); err != nil || len(entries) != 1 {
		t.Errorf("synth into a non-empty folder changed it: %v, %v", entries, err)
	}
	// Even a folder of only broken files gets its report before failing.
	_, out, _ := runCLI("data", "stats", broken)
	if !strings.Contains(out, "x.jpg: not an image") {
		t.Errorf("report for a broken folder: %q", out)
	}
}
