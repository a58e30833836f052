package data

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSynthesizeIsAScannableFolder(t *testing.T) {
	dir := t.TempDir()
	if err := Synthesize(dir, 4, 5, 32, 7); err != nil {
		t.Fatal(err)
	}
	ds, err := Scan(dir, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Classes) != 4 || len(ds.Samples) != 20 || len(ds.Skipped) != 0 || len(ds.Duplicates) != 0 {
		t.Fatalf("classes %v, %d samples, %d skipped, %d duplicate groups", ds.Classes, len(ds.Samples), len(ds.Skipped), len(ds.Duplicates))
	}
	// Same seed, same bytes: the demo is reproducible.
	again := t.TempDir()
	if err := Synthesize(again, 4, 5, 32, 7); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "cross", "cross_004.png"))
	b, _ := os.ReadFile(filepath.Join(again, "cross", "cross_004.png"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("same seed gave different files")
	}
	for _, bad := range [][3]int{{1, 5, 32}, {7, 5, 32}, {4, 0, 32}, {4, 5, 8}} {
		if err := Synthesize(t.TempDir(), bad[0], bad[1], bad[2], 1); err == nil {
			t.Errorf("Synthesize%v accepted", bad)
		}
	}
}
