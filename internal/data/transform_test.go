package data

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// resizePatternColor is gen_reference.py's pattern.
func resizePatternColor(x, y int) color.RGBA {
	return color.RGBA{uint8((x*x*3 + y*17 + x*y) % 256), uint8((x*29 + y*y*5 + 71) % 256), uint8(((x^y)*37 + 140) % 256), 255}
}

func resizePattern(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, resizePatternColor(x, y))
		}
	}
	return img
}

func TestResizeMatchesPIL(t *testing.T) {
	var ref struct {
		PIL   string
		Cases []struct {
			W, H, OW, OH int
			Pix          []int
		}
	}
	if err := json.Unmarshal(readTestdata(t, "resize_pil.json"), &ref); err != nil {
		t.Fatal(err)
	}
	for _, c := range ref.Cases {
		src := resizePattern(c.W, c.H)
		got := resample(plane{src.Pix, 4, src.Stride, c.W, c.H}, c.OW, c.OH)
		worst, off := 0, 0
		for i, v := range c.Pix {
			d := absDiff(got.Pix[i], uint8(v))
			worst = max(worst, d)
			if d != 0 {
				off++
			}
		}
		// PIL's fixed-point arithmetic is reproduced, so the match should
		// be exact; the contract allows one level.
		if worst > 1 {
			t.Errorf("%dx%d -> %dx%d: max difference %d from PIL %s", c.W, c.H, c.OW, c.OH, worst, ref.PIL)
		}
		if off > 0 {
			t.Logf("%dx%d -> %dx%d: %d of %d values differ", c.W, c.H, c.OW, c.OH, off, len(c.Pix))
		}
	}
	if len(ref.Cases) < 5 {
		t.Fatalf("only %d reference cases", len(ref.Cases))
	}
}

func TestNormalize(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 7, 5))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []uint8{255, 128, 0, 255})
	}
	tr := Transform{Size: 4}
	dst := make([]float32, 3*16)
	if err := tr.Apply(img, nil, dst); err != nil {
		t.Fatal(err)
	}
	for c, v := range []float32{1, 128.0 / 255, 0} {
		want := (v - DefaultMean[c]) / DefaultStd[c]
		for i := 0; i < 16; i++ {
			if got := dst[c*16+i]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("channel %d value %d: %v, want %v", c, i, got, want)
			}
		}
	}
	// Custom statistics are used when given.
	tr.Mean, tr.Std = [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}
	if err := tr.Apply(img, nil, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 1 || dst[2*16] != -1 {
		t.Errorf("mean/std 0.5: got %v and %v, want 1 and -1", dst[0], dst[32])
	}
}

func TestApplyLayoutAndErrors(t *testing.T) {
	// A 2x2 image with distinct pixels keeps its CHW layout at size 2.
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Pix = []uint8{10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 100, 110, 120, 255}
	tr := Transform{Size: 2, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255}}
	dst := make([]float32, 12)
	if err := tr.Apply(img, nil, dst); err != nil {
		t.Fatal(err)
	}
	want := []float32{10, 40, 70, 100, 20, 50, 80, 110, 30, 60, 90, 120}
	for i := range want {
		if math.Abs(float64(dst[i]-want[i])) > 1e-3 {
			t.Fatalf("CHW layout: got %v, want %v", dst, want)
		}
	}
	// At the same size, Resize is the identity and ToRGBA gives it back.
	r, err := tr.Resize(img)
	if err != nil {
		t.Fatal(err)
	}
	if back := r.ToRGBA(); !slices.Equal(back.Pix, img.Pix) {
		t.Errorf("round trip: %v, want %v", back.Pix, img.Pix)
	}
	if err := tr.Apply(img, nil, make([]float32, 11)); err == nil {
		t.Error("short destination accepted")
	}
	if err := (Transform{Size: 2, Augment: true}).Apply(img, nil, dst); err == nil {
		t.Error("augmentation without a generator accepted")
	}
	if err := (Transform{}).Apply(img, nil, dst); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestAugmentDeterminism(t *testing.T) {
	img := resizePattern(50, 40)
	tr := Transform{Size: 16, Augment: true}
	run := func(seed uint64) []float32 {
		dst := make([]float32, 3*16*16)
		if err := tr.Apply(img, rand.New(rand.NewPCG(seed, 1)), dst); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Error("same seed, different output")
	}
	if slices.Equal(a, c) {
		t.Error("different seeds, same output")
	}
	plain := make([]float32, len(a))
	if err := (Transform{Size: 16}).Apply(img, nil, plain); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, plain) {
		t.Error("augmentation changed nothing")
	}
	// Over many draws, the flip happens about half the time and the crop
	// stays within torchvision's limits.
	flips := 0
	rng := rand.New(rand.NewPCG(3, 3))
	for range 2000 {
		x, y, w, h := cropBox(rng, 64, 64)
		if x < 0 || y < 0 || x+w > 64 || y+h > 64 {
			t.Fatalf("crop %d,%d %dx%d outside 64x64", x, y, w, h)
		}
		area := float64(w*h) / 4096
		ratio := float64(w) / float64(h)
		// Rounding to whole pixels widens the bounds slightly.
		if area < 0.68 || area > 1 || ratio < 0.73 || ratio > 1.37 {
			t.Fatalf("crop %dx%d: area %.3f ratio %.3f", w, h, area, ratio)
		}
		if rng.Float64() < 0.5 {
			flips++
		}
	}
	if flips < 900 || flips > 1100 {
		t.Errorf("%d flips in 2000", flips)
	}
}

func TestCropFallbackIsCentred(t *testing.T) {
	// A 100x10 strip cannot hold a crop of 70% area at ratio <= 4/3, so
	// the fallback centre crop at the largest allowed ratio is used.
	x, y, w, h := cropBox(rand.New(rand.NewPCG(1, 2)), 100, 10)
	if w != 13 || h != 10 || x != 43 || y != 0 {
		t.Errorf("fallback crop %d,%d %dx%d, want 43,0 13x10", x, y, w, h)
	}
}

func TestColourJitter(t *testing.T) {
	n := 4
	x := []float32{0.2, 0.4, 0.6, 0.8, 0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.5}
	b := slices.Clone(x)
	brightness(b, 1.5)
	if b[3] != 1 || math.Abs(float64(b[0]-0.3)) > 1e-6 {
		t.Errorf("brightness: %v", b)
	}
	c := slices.Clone(x)
	contrast(c, n, 0) // factor 0: every value becomes the grey mean
	m := float32(0)
	for i := 0; i < n; i++ {
		m += gray(x[i], x[n+i], x[2*n+i]) / float32(n)
	}
	for i, v := range c {
		if math.Abs(float64(v-m)) > 1e-6 {
			t.Fatalf("contrast 0: value %d = %v, want %v", i, v, m)
		}
	}
	s := slices.Clone(x)
	saturation(s, n, 0) // factor 0: grayscale
	for i := 0; i < n; i++ {
		g := gray(x[i], x[n+i], x[2*n+i])
		if s[i] != s[n+i] || s[i] != s[2*n+i] || math.Abs(float64(s[i]-g)) > 1e-6 {
			t.Fatalf("saturation 0: pixel %d = %v %v %v, want %v", i, s[i], s[n+i], s[2*n+i], g)
		}
	}
}

func BenchmarkResize474To64(b *testing.B) {
	img := resizePattern(474, 478)
	tr := Transform{Size: 64}
	for b.Loop() {
		if _, err := tr.Resize(img); err != nil {
			b.Fatal(err)
		}
	}
}
