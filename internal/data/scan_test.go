package data

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestScanFolder(t *testing.T) {
	f := makeFolder(t)
	ds, err := Scan(f.root, ScanOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alice", "bob", "broken", "carol"}; !slices.Equal(ds.Classes, want) {
		t.Fatalf("classes %v, want %v (sorted, hidden folders and root files ignored)", ds.Classes, want)
	}
	// Samples, in order, are exactly the good files.
	var want []string
	for _, c := range ds.Classes {
		for _, n := range f.good[c] {
			want = append(want, filepath.Join(f.root, c, n))
		}
	}
	var got []string
	for _, s := range ds.Samples {
		got = append(got, s.Path)
		rel, _ := filepath.Rel(f.root, s.Path)
		if top := strings.Split(filepath.ToSlash(rel), "/")[0]; top != ds.Classes[s.Class] {
			t.Errorf("%s: class %s", s.Path, ds.Classes[s.Class])
		}
		if len(s.SHA256) != 64 || s.Width <= 0 || s.Height <= 0 {
			t.Errorf("%s: sha %q size %dx%d", s.Path, s.SHA256, s.Width, s.Height)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("samples\n%v\nwant\n%v", got, want)
	}
	// Every broken file is skipped with its reason, and nothing else is.
	if len(ds.Skipped) != len(f.broken) {
		t.Errorf("%d skipped, want %d: %v", len(ds.Skipped), len(f.broken), ds.Skipped)
	}
	for _, s := range ds.Skipped {
		reason, ok := f.broken[s.Path]
		if !ok {
			t.Errorf("unexpected skip %s: %s", s.Path, s.Reason)
			continue
		}
		if !strings.Contains(strings.ToLower(s.Reason), strings.ToLower(reason)) {
			t.Errorf("%s: reason %q, want it to contain %q", filepath.Base(s.Path), s.Reason, reason)
		}
	}
	// Duplicate groups, as relative paths.
	var dups [][]string
	for _, g := range ds.Duplicates {
		var rel []string
		for _, i := range g {
			r, _ := filepath.Rel(f.root, ds.Samples[i].Path)
			rel = append(rel, filepath.ToSlash(r))
		}
		dups = append(dups, rel)
	}
	if !slices.EqualFunc(dups, f.dups, slices.Equal) {
		t.Errorf("duplicates %v, want %v", dups, f.dups)
	}
}

func TestScanSizesAfterOrientation(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "portrait.jpg"), withOrientation(t, encode(t, "jpeg", patternImage(40, 30)), 6))
	ds, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := ds.Samples[0]; s.Width != 30 || s.Height != 40 {
		t.Errorf("size %dx%d, want the displayed 30x40", s.Width, s.Height)
	}
}

func TestScanVerifyFindsMidFileDamage(t *testing.T) {
	// A JPEG whose entropy-coded data is cut out of the middle but that
	// still ends with the end-of-image marker passes the cheap check; only
	// Verify's full decode finds it.
	root := t.TempDir()
	jp := encode(t, "jpeg", patternImage(64, 64))
	sos := strings.Index(string(jp), "\xff\xda")
	damaged := append(append([]byte{}, jp[:sos+20]...), 0xff, 0xd9)
	writeFile(t, filepath.Join(root, "a", "ok.jpg"), jp)
	writeFile(t, filepath.Join(root, "a", "damaged.jpg"), damaged)
	for _, verify := range []bool{false, true} {
		ds, err := Scan(root, ScanOptions{Verify: verify})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ds.Skipped); got != map[bool]int{false: 0, true: 1}[verify] {
			t.Errorf("verify=%v: %d skipped: %v", verify, got, ds.Skipped)
		}
	}
}

func TestScanUnreadableFile(t *testing.T) {
	if runtime.GOOS == "windows" || os.Getuid() == 0 {
		t.Skip("permissions are not enforced for root")
	}
	root := t.TempDir()
	p := filepath.Join(root, "a", "locked.png")
	writeFile(t, p, encode(t, "png", patternImage(8, 8)))
	writeFile(t, filepath.Join(root, "a", "ok.png"), encode(t, "png", patternImage(9, 8)))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	ds, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Skipped) != 1 || !strings.Contains(ds.Skipped[0].Reason, "permission denied") {
		t.Errorf("skipped %v, want locked.png with permission denied", ds.Skipped)
	}
}

func TestScanSymlinks(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "x.png"), encode(t, "png", patternImage(8, 8)))
	writeFile(t, filepath.Join(root, "a", "y.png"), encode(t, "png", patternImage(9, 8)))
	must := func(err error) {
		if err != nil {
			t.Skip("no symlinks:", err)
		}
	}
	must(os.Symlink(other, filepath.Join(root, "linked")))                             // class folder link: followed
	must(os.Symlink(filepath.Join(other, "x.png"), filepath.Join(root, "a", "l.png"))) // file link: followed
	must(os.Symlink(root, filepath.Join(root, "a", "loop")))                           // dir link in a class: not descended
	must(os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "a", "dangling.png")))
	ds, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Classes, []string{"a", "linked"}) || len(ds.Samples) != 3 {
		t.Errorf("classes %v, %d samples, want [a linked] and 3", ds.Classes, len(ds.Samples))
	}
	if len(ds.Skipped) != 1 || ds.Skipped[0].Reason != "broken symbolic link" {
		t.Errorf("skipped %v", ds.Skipped)
	}
}

func TestScanErrors(t *testing.T) {
	empty := t.TempDir()
	onlyBroken := t.TempDir()
	writeFile(t, filepath.Join(onlyBroken, "a", "x.jpg"), nil)
	file := filepath.Join(t.TempDir(), "f")
	writeFile(t, file, []byte("x"))
	for _, tc := range []struct {
		name, root, want string
		withDS           bool
	}{
		{"missing", filepath.Join(empty, "nope"), "no such file", false},
		{"not a dir", file, "not a directory", false},
		{"no classes", empty, "no class sub-folders", false},
		{"no images", onlyBroken, "no usable images", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Scan(tc.root, ScanOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.root) {
				t.Fatalf("err %v, want it to name %s and say %q", err, tc.root, tc.want)
			}
			if (ds != nil) != tc.withDS {
				t.Errorf("dataset returned: %v, want %v", ds != nil, tc.withDS)
			}
			if tc.withDS && (!errors.Is(err, ErrNoImages) || len(ds.Skipped) != 1) {
				t.Errorf("want ErrNoImages and the skipped file, got %v, %v", err, ds.Skipped)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	f := makeFolder(t)
	ds, err := Scan(f.root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := Summarize(ds)
	counts := map[string]int{}
	for _, c := range st.Classes {
		counts[c.Name] = c.Count
	}
	if counts["alice"] != 7 || counts["bob"] != 6 || counts["carol"] != 6 || counts["broken"] != 0 || st.Images != 19 {
		t.Errorf("counts %v, images %d", counts, st.Images)
	}
	// Widths are 20+3k+ci (k<5, ci 0..2), 5 (webp), 11 (nested), and the
	// copies; heights 16+2k, 3, 9.
	if st.Width.Min != 5 || st.Width.Max != 34 || st.Height.Min != 3 || st.Height.Max != 24 {
		t.Errorf("width %+v height %+v", st.Width, st.Height)
	}
	if st.Width.Median < st.Width.Min || st.Width.Median > st.Width.Max {
		t.Errorf("median %d outside range", st.Width.Median)
	}
	if len(st.Skipped) != len(f.broken) || len(st.Duplicates) != 2 {
		t.Errorf("%d skipped, %d duplicate groups", len(st.Skipped), len(st.Duplicates))
	}
	if got := spread([]int{4, 1, 3, 2}); got != (Spread{1, 2, 4}) {
		t.Errorf("spread %v", got)
	}
}
