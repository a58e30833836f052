package data

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// syntheticDataset has n[c] samples in class c (no files behind them).
func syntheticDataset(n ...int) *Dataset {
	ds := &Dataset{Root: "/data"}
	for c, k := range n {
		name := fmt.Sprintf("class%02d", c)
		ds.Classes = append(ds.Classes, name)
		for i := 0; i < k; i++ {
			ds.Samples = append(ds.Samples, Sample{Path: fmt.Sprintf("/data/%s/%03d.jpg", name, i), Class: c,
				SHA256: fmt.Sprintf("%064d", len(ds.Samples))})
		}
	}
	return ds
}

func TestSplitReproducible(t *testing.T) {
	ds := syntheticDataset(80, 80, 92, 79)
	a, _ := StratifiedSplit(ds, 0.8, 42)
	b, _ := StratifiedSplit(ds, 0.8, 42)
	c, _ := StratifiedSplit(ds, 0.8, 43)
	if !slices.Equal(a.Train, b.Train) || !slices.Equal(a.Test, b.Test) {
		t.Error("same seed, different split")
	}
	if slices.Equal(a.Test, c.Test) {
		t.Error("different seeds, same split")
	}
	if len(a.Train)+len(a.Test) != len(ds.Samples) {
		t.Errorf("%d+%d samples, want %d", len(a.Train), len(a.Test), len(ds.Samples))
	}
	if !slices.IsSorted(a.Train) || a.Seed != 42 || a.TrainFrac != 0.8 || !slices.Equal(a.Classes, ds.Classes) {
		t.Errorf("split metadata or order wrong: %+v", a.Classes)
	}
}

func TestSplitStratified(t *testing.T) {
	counts := []int{80, 79, 92, 10, 3, 2, 1}
	ds := syntheticDataset(counts...)
	for _, frac := range []float64{0.8, 0.5, 0.2} {
		sp, err := StratifiedSplit(ds, frac, 7)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, p := range sp.Train {
			per[strings.Split(strings.TrimPrefix(p, ""), "/")[0]]++
		}
		for c, n := range counts {
			want := 1 // a one-photo class trains on its photo
			if n >= 2 {
				want = min(max(int(math.Round(frac*float64(n))), 1), n-1)
			}
			if got := per[ds.Classes[c]]; got != want {
				t.Errorf("frac %v class of %d: %d in train, want %d", frac, n, got, want)
			}
		}
	}
	if _, err := StratifiedSplit(ds, 1, 1); err == nil {
		t.Error("train fraction 1 accepted")
	}
	if _, err := StratifiedSplit(ds, 0, 1); err == nil {
		t.Error("train fraction 0 accepted")
	}
}

func TestSplitKeepsDuplicatesTogether(t *testing.T) {
	ds := syntheticDataset(30, 30)
	// Groups within a class and across classes.
	ds.Duplicates = [][]int{{0, 1, 2, 3, 4, 5}, {7, 40}, {10, 35, 50}}
	for seed := uint64(0); seed < 20; seed++ {
		sp, _ := StratifiedSplit(ds, 0.5, seed)
		train := map[string]bool{}
		for _, p := range sp.Train {
			train[p] = true
		}
		for _, g := range ds.Duplicates {
			side := train[strings.TrimPrefix(ds.Samples[g[0]].Path, "/data/")]
			for _, i := range g[1:] {
				if train[strings.TrimPrefix(ds.Samples[i].Path, "/data/")] != side {
					t.Fatalf("seed %d: group %v split across train and test", seed, g)
				}
			}
		}
	}
}

func TestSplitFileRoundTrip(t *testing.T) {
	f := makeFolder(t)
	ds, err := Scan(f.root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := StratifiedSplit(ds, 0.7, 5)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "split.json")
	if err := sp.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	// Overwriting leaves no temporary files behind.
	if err := sp.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files next to split.json", len(ents))
	}
	back, err := ReadSplit(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Train, sp.Train) || !slices.Equal(back.Test, sp.Test) || back.Seed != 5 {
		t.Fatal("split changed through the file")
	}
	// Indices work on a scan of the same folder through another path.
	rel, err := filepath.Rel(mustGetwd(t), f.root)
	if err != nil {
		t.Fatal(err)
	}
	ds2, err := Scan(rel, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := back.Indices(ds2)
	if err != nil {
		t.Fatal(err)
	}
	if len(train) != len(sp.Train) || len(test) != len(sp.Test) {
		t.Fatalf("indices %d/%d, want %d/%d", len(train), len(test), len(sp.Train), len(sp.Test))
	}
	for k, i := range train {
		r, _ := filepath.Rel(rel, ds2.Samples[i].Path)
		if filepath.ToSlash(r) != sp.Train[k] {
			t.Fatalf("train[%d] maps to %s, want %s", k, r, sp.Train[k])
		}
	}
	// A file that disappeared is named.
	gone := filepath.Join(f.root, filepath.FromSlash(sp.Test[0]))
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	ds3, _ := Scan(f.root, ScanOptions{})
	if _, _, err := back.Indices(ds3); err == nil || !strings.Contains(err.Error(), sp.Test[0]) {
		t.Errorf("missing file: err %v, want it named", err)
	}
	// A different class list is refused.
	ds3.Classes = ds3.Classes[1:]
	if _, _, err := back.Indices(ds3); err == nil || !strings.Contains(err.Error(), "classes") {
		t.Errorf("class mismatch: %v", err)
	}
	if _, err := ReadSplit(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("missing split file accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, []byte("{"))
	if _, err := ReadSplit(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt split: %v", err)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// TestReadSplitRefusesOverlap: a split.json edited so that a photo is on
// both sides (or twice on one) would test on training photos.
func TestReadSplitRefusesOverlap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "split.json")
	for _, c := range []struct{ body, want string }{
		{`{"classes":["a"],"train":["a/1.png","a/2.png"],"test":["a/2.png"]}`, "a/2.png is listed twice (in train and in test)"},
		{`{"classes":["a"],"train":["a/1.png","a/1.png"],"test":[]}`, "a/1.png is listed twice (in train and in train)"},
	} {
		if err := os.WriteFile(path, []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSplit(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v, want %q with the file named", c.body, err, c.want)
		}
	}
}
