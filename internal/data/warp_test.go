package data

import (
	"errors"
	"image"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// transpose is a warp no rectangle can express: it swaps x and y.
func transpose(img *image.RGBA) *image.RGBA {
	b := img.Rect
	out := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.SetRGBA(y-b.Min.Y, x-b.Min.X, img.RGBAAt(x, y))
		}
	}
	return out
}

// TestLoaderWarp: the warp replaces the crop, its image is what gets
// resized (and cached: one warp per sample over two augmented epochs,
// augmentation drawn afresh each time), and a failing warp drops the
// sample with an error naming the file.
func TestLoaderWarp(t *testing.T) {
	ds := goodDataset(t, 3)
	var calls atomic.Int64
	bad := errors.New("no landmarks")
	warp := func(i int, img *image.RGBA) (*image.RGBA, error) {
		calls.Add(1)
		if i == 2 {
			return nil, bad
		}
		return transpose(img), nil
	}
	crop := func(int, *image.RGBA) (image.Rectangle, error) {
		t.Error("Crop called although Warp is set")
		return image.Rectangle{}, nil
	}
	tr := Transform{Size: 12}
	l := NewLoader(ds, []int{0, 1, 2}, tr, 3, LoaderOptions{Warp: warp, Crop: crop})
	r := collect(t, l, false, nil)
	if len(r.errs) != 1 || !errors.Is(r.errs[0], bad) || !strings.Contains(r.errs[0].Error(), ds.Samples[2].Path) {
		t.Fatalf("errors %v, want the warp's error for %s", r.errs, ds.Samples[2].Path)
	}
	per := 3 * 12 * 12
	for k, i := range []int{0, 1} {
		img, err := DecodeFile(ds.Samples[i].Path, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, per)
		if err := tr.Apply(transpose(img), nil, want); err != nil {
			t.Fatal(err)
		}
		// The photos are not square, so only the transposed image matches.
		if got := r.data[0][k*per : (k+1)*per]; !slices.Equal(got, want) {
			t.Errorf("sample %d differs from its warped image", i)
		}
	}

	calls.Store(0)
	tr.Augment = true
	l = NewLoader(ds, []int{0, 1}, tr, 2, LoaderOptions{Warp: warp})
	rng := rand.New(rand.NewPCG(1, 2))
	e1, e2 := collect(t, l, false, rng), collect(t, l, false, rng)
	if calls.Load() != 2 {
		t.Errorf("%d warps over two epochs of two samples, want 2 (cached)", calls.Load())
	}
	if len(e1.data) != 1 || len(e2.data) != 1 || slices.Equal(e1.data[0], e2.data[0]) {
		t.Error("augmentation did not change between epochs")
	}
}
