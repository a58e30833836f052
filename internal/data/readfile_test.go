package data

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a named pipe or skips the test where there are none.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip("no named pipes:", err)
	}
}

// within fails the test when f does not return within a generous bound (a
// hang is the bug under test; the bound is not a speed requirement).
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not return: it blocks", what)
	}
}

func TestReadFileRefusesDevicesFIFOsAndLargeFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x.jpg")
	mkfifo(t, fifo)
	big := filepath.Join(dir, "big.jpg")
	writeFile(t, big, make([]byte, 4096))
	cases := []struct{ path, want string }{
		{"/dev/zero", "not a regular file (character device)"},
		{fifo, "not a regular file (named pipe)"},
		{dir, "not a regular file (folder)"},
		{big, "file of 4096 bytes, over the 1024 bytes limit"},
		{filepath.Join(dir, "none.jpg"), "unreadable"},
	}
	for _, c := range cases {
		within(t, "ReadFile "+c.path, func() {
			_, err := ReadFile(c.path, 1024)
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Path != c.path || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadFile(%s): %v, want an error naming the file with %q", c.path, err, c.want)
			}
		})
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		// The decoder takes the same road: bounded at MaxFileBytes, never
		// reading the endless device.
		within(t, "DecodeFile /dev/zero", func() {
			if _, err := DecodeFile("/dev/zero", 0); err == nil || !strings.Contains(err.Error(), "character device") {
				t.Errorf("DecodeFile(/dev/zero): %v", err)
			}
		})
	}
	b, err := ReadFile(big, 0)
	if err != nil || len(b) != 4096 {
		t.Errorf("ReadFile of a plain file: %d bytes, %v", len(b), err)
	}
}

func TestScanListsFIFOs(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "y.png"), encode(t, "png", patternImage(9, 8)))
	fifo := filepath.Join(root, "a", "x.jpg")
	mkfifo(t, fifo)
	var ds *Dataset
	within(t, "Scan", func() {
		var err error
		if ds, err = Scan(root, ScanOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if len(ds.Samples) != 1 || len(ds.Skipped) != 1 || ds.Skipped[0].Path != fifo ||
		ds.Skipped[0].Reason != "not a regular file (named pipe)" {
		t.Errorf("samples %d, skipped %v: want the FIFO listed as a named pipe", len(ds.Samples), ds.Skipped)
	}
}

// A class folder linked to the data folder itself, or to another class,
// would repeat every photo under a second name: it is left out and listed;
// photos that really are in two classes are reported as such.
func TestScanRefusesClassLinksIntoTheDataFolder(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "1.png"), encode(t, "png", patternImage(9, 8)))
	writeFile(t, filepath.Join(root, "b", "1.png"), encode(t, "png", patternImage(8, 9)))
	writeFile(t, filepath.Join(outside, "1.png"), encode(t, "png", patternImage(7, 9)))
	for _, l := range [][2]string{{root, "zz"}, {filepath.Join(root, "b"), "aa"}, {outside, "c"}, {outside, "d"}} {
		if err := os.Symlink(l[0], filepath.Join(root, l[1])); err != nil {
			t.Skip("no symlinks:", err)
		}
	}
	// From a relative data folder, as a user types it.
	t.Chdir(filepath.Dir(root))
	ds, err := Scan(filepath.Base(root), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(ds.Classes, want) {
		t.Errorf("classes %v, want %v", ds.Classes, want)
	}
	want := map[string]string{"aa": "inside the data folder", "d": "same folder as class c", "zz": "inside the data folder"}
	if len(ds.Skipped) != len(want) {
		t.Errorf("skipped %v, want %d class links", ds.Skipped, len(want))
	}
	for _, s := range ds.Skipped {
		if w := want[filepath.Base(s.Path)]; w == "" || !strings.Contains(s.Reason, w) {
			t.Errorf("%s: %q, want %q", s.Path, s.Reason, w)
		}
	}
	if len(ds.CrossClassDuplicates()) != 0 {
		t.Errorf("cross-class duplicates %v in a folder without any", ds.CrossClassDuplicates())
	}

	// A photo copied into another class is a warning.
	writeFile(t, filepath.Join(root, "b", "copy.png"), encode(t, "png", patternImage(9, 8)))
	writeFile(t, filepath.Join(root, "a", "2.png"), encode(t, "png", patternImage(9, 8)))
	if ds, err = Scan(root, ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	note := ds.CrossClassNote()
	if len(ds.Duplicates) != 1 || len(note) != 2 || !strings.Contains(note[0], "more than one class") ||
		!strings.Contains(note[1], filepath.Join("b", "copy.png")) {
		t.Errorf("duplicates %v, note %q", ds.Duplicates, note)
	}
}

func TestShowPathQuotesWhatWouldMislead(t *testing.T) {
	for in, want := range map[string]string{
		"Brad Pitt/1.jpg":   "Brad Pitt/1.jpg",
		"a\nb.jpg":          `"a\nb.jpg"`,
		"caf\xe9.jpg":       `"caf\xe9.jpg"`,
		"Tom\u200bHanks":    `"Tom\u200bHanks"`,
		" lead.jpg":         `" lead.jpg"`,
		`"quoted".jpg`:      `"\"quoted\".jpg"`,
		"Zoë Saldaña/1.jpg": "Zoë Saldaña/1.jpg",
	} {
		if got := ShowPath(in); got != want {
			t.Errorf("ShowPath(%q) = %s, want %s", in, got, want)
		}
	}
	st := &Stats{Root: "/d", Skipped: []Skipped{{Path: "/d/a/x\nfake: line", Reason: "not an image"}}}
	var b strings.Builder
	st.WriteText(&b)
	if strings.Contains(b.String(), "\nfake: line") {
		t.Errorf("a newline in a name broke the listing:\n%s", b.String())
	}
}
