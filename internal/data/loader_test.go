package data

import (
	"errors"
	"image"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// goodDataset scans a folder of n generated PNGs in two classes.
func goodDataset(t testing.TB, n int) *Dataset {
	t.Helper()
	root := t.TempDir()
	for i := 0; i < n; i++ {
		class := []string{"a", "b"}[i%2]
		writeFile(t, root+"/"+class+"/"+string(rune('a'+i/26))+string(rune('a'+i%26))+".png",
			encode(t, "png", patternImage(30+i, 20+i%7)))
	}
	ds, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

type epochResult struct {
	batches [][]int
	labels  [][]int
	data    [][]float32
	errs    []error
}

func collect(t testing.TB, l *Loader, shuffle bool, rng *rand.Rand) epochResult {
	t.Helper()
	var r epochResult
	for b, err := range l.Epoch(shuffle, rng) {
		if err != nil {
			r.errs = append(r.errs, err)
			continue
		}
		if b.X.Shape[0] != len(b.Indices) || len(b.Labels) != len(b.Indices) {
			t.Fatalf("batch shape %v for %d indices", b.X.Shape, len(b.Indices))
		}
		r.batches = append(r.batches, slices.Clone(b.Indices))
		r.labels = append(r.labels, slices.Clone(b.Labels))
		r.data = append(r.data, slices.Clone(b.X.Data))
	}
	return r
}

func TestLoaderOrderAndContent(t *testing.T) {
	ds := goodDataset(t, 11)
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tr := Transform{Size: 8}
	l := NewLoader(ds, idx, tr, 4, LoaderOptions{Workers: 3})
	r := collect(t, l, false, nil)
	if len(r.errs) != 0 {
		t.Fatal(r.errs)
	}
	want := [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10}}
	if !slices.EqualFunc(r.batches, want, slices.Equal) {
		t.Fatalf("batches %v, want %v", r.batches, want)
	}
	// Rows equal Transform.Apply on the decoded file, labels the classes.
	for bi, b := range r.batches {
		for k, i := range b {
			img, err := DecodeFile(ds.Samples[i].Path, 0)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]float32, 3*64)
			if err := tr.Apply(img, nil, dst); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.data[bi][k*192:(k+1)*192], dst) {
				t.Fatalf("sample %d differs from Transform.Apply", i)
			}
			if r.labels[bi][k] != ds.Samples[i].Class {
				t.Fatalf("sample %d label %d", i, r.labels[bi][k])
			}
		}
	}
	if l.CachedBytes() != 11*3*64 {
		t.Errorf("cache holds %d bytes, want %d", l.CachedBytes(), 11*3*64)
	}
}

func TestLoaderDeterministicAcrossWorkersAndCache(t *testing.T) {
	ds := goodDataset(t, 13)
	idx := []int{12, 0, 3, 5, 7, 9, 11, 1, 2, 4, 6, 8, 10}
	tr := Transform{Size: 12, Augment: true}
	var ref []epochResult
	for _, opts := range []LoaderOptions{
		{Workers: 1},
		{Workers: 4, Prefetch: 1},
		{Workers: 3, CacheBytes: -1},
		{Workers: 2, CacheBytes: 3 * 12 * 12 * 5}, // cache fills up part way
	} {
		l := NewLoader(ds, idx, tr, 5, opts)
		rng := rand.New(rand.NewPCG(9, 9))
		// Two epochs: the second is served (partly) from the cache.
		got := []epochResult{collect(t, l, true, rng), collect(t, l, true, rng)}
		if ref == nil {
			ref = got
			if slices.EqualFunc(got[0].batches, got[1].batches, slices.Equal) {
				t.Error("two epochs with the same order")
			}
			continue
		}
		for e := range got {
			if !slices.EqualFunc(got[e].batches, ref[e].batches, slices.Equal) {
				t.Fatalf("%+v epoch %d: batches %v, want %v", opts, e, got[e].batches, ref[e].batches)
			}
			if !slices.EqualFunc(got[e].data, ref[e].data, slices.Equal) {
				t.Fatalf("%+v epoch %d: pixel data differs", opts, e)
			}
		}
	}
	// Another seed gives another epoch.
	l := NewLoader(ds, idx, tr, 5, LoaderOptions{})
	other := collect(t, l, true, rand.New(rand.NewPCG(10, 9)))
	if slices.EqualFunc(other.batches, ref[0].batches, slices.Equal) {
		t.Error("different seeds, same batches")
	}
}

func TestLoaderDropsFileDeletedMidRun(t *testing.T) {
	ds := goodDataset(t, 9)
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	l := NewLoader(ds, idx, Transform{Size: 8}, 4, LoaderOptions{Workers: 2, CacheBytes: -1})
	first := collect(t, l, false, nil)
	if len(first.errs) != 0 {
		t.Fatal(first.errs)
	}
	// Damage one file and delete another between epochs.
	if err := os.Remove(ds.Samples[5].Path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ds.Samples[2].Path, []byte("gone"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := collect(t, l, false, nil)
	want := [][]int{{0, 1, 3}, {4, 6, 7}, {8}}
	if !slices.EqualFunc(r.batches, want, slices.Equal) {
		t.Errorf("batches %v, want %v", r.batches, want)
	}
	if len(r.errs) != 2 {
		t.Fatalf("errors %v, want two", r.errs)
	}
	for k, i := range []int{2, 5} {
		var se *SampleError
		if !errors.As(r.errs[k], &se) || se.Index != i || !strings.Contains(r.errs[k].Error(), ds.Samples[i].Path) {
			t.Errorf("error %d: %v, want a SampleError naming sample %d", k, r.errs[k], i)
		}
	}
	if l.Len() != 7 {
		t.Errorf("Len %d after two failures, want 7", l.Len())
	}
	// The next epoch drops them again, silently, from the same batches.
	again := collect(t, l, false, nil)
	if len(again.errs) != 0 || !slices.EqualFunc(again.batches, want, slices.Equal) {
		t.Errorf("third epoch: %v %v", again.batches, again.errs)
	}
	// A fresh loader (a resumed run) that finds the failures anew yields the
	// same shuffled batches as the one that knew them already.
	old := collect(t, l, true, rand.New(rand.NewPCG(4, 4)))
	fresh := collect(t, NewLoader(ds, idx, Transform{Size: 8}, 4, LoaderOptions{}), true, rand.New(rand.NewPCG(4, 4)))
	if !slices.EqualFunc(old.batches, fresh.batches, slices.Equal) || len(old.errs) != 0 || len(fresh.errs) != 2 {
		t.Errorf("resumed batches %v (%d errors), want %v (%d)", fresh.batches, len(fresh.errs), old.batches, len(old.errs))
	}
}

func TestLoaderCachedSurvivesDeletion(t *testing.T) {
	ds := goodDataset(t, 4)
	l := NewLoader(ds, []int{0, 1, 2, 3}, Transform{Size: 8}, 2, LoaderOptions{})
	a := collect(t, l, false, nil)
	os.Remove(ds.Samples[1].Path)
	b := collect(t, l, false, nil)
	if len(b.errs) != 0 || !slices.EqualFunc(a.data, b.data, slices.Equal) {
		t.Errorf("cached epoch changed after deletion: %v", b.errs)
	}
}

func TestLoaderEarlyBreakStopsWorkers(t *testing.T) {
	ds := goodDataset(t, 20)
	idx := make([]int, 20)
	for i := range idx {
		idx[i] = i
	}
	l := NewLoader(ds, idx, Transform{Size: 8}, 2, LoaderOptions{Workers: 3})
	done := make(chan struct{})
	go func() {
		for range l.Epoch(false, nil) {
			break
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("breaking out of an epoch did not return")
	}
}

func TestLoaderCrop(t *testing.T) {
	ds := goodDataset(t, 2)
	crop := func(i int, img *image.RGBA) (image.Rectangle, error) {
		return image.Rect(2, 3, 12, 13), nil
	}
	tr := Transform{Size: 10}
	l := NewLoader(ds, []int{0}, tr, 1, LoaderOptions{Crop: crop})
	r := collect(t, l, false, nil)
	img, _ := DecodeFile(ds.Samples[0].Path, 0)
	dst := make([]float32, 300)
	tr.Apply(img.SubImage(image.Rect(2, 3, 12, 13)), nil, dst)
	if len(r.data) != 1 || !slices.Equal(r.data[0], dst) {
		t.Error("cropped sample differs from the cropped image")
	}
}

func TestLoaderNeedsGenerator(t *testing.T) {
	ds := goodDataset(t, 2)
	l := NewLoader(ds, []int{0, 1}, Transform{Size: 4}, 2, LoaderOptions{})
	r := collect(t, l, true, nil)
	if len(r.errs) != 1 || len(r.batches) != 0 {
		t.Errorf("shuffle without a generator: %v, %d batches", r.errs, len(r.batches))
	}
}
