package data

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"
)

func TestScanBombIsAValidJPEG(t *testing.T) {
	// The generator must make what a decoder accepts, or the tests below
	// would pass for the wrong reason.
	bomb := ScanBombJPEG(64, 48, 20)
	img, err := DecodeBudget(context.Background(), bomb, "bomb.jpg", Budget{})
	if err != nil {
		t.Fatalf("a 20-scan progressive JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Fatalf("bounds %v", b)
	}
	if n := jpegScans(bomb, 1000); n != 21 {
		t.Errorf("counted %d scans, made 21", n)
	}
}

func TestScanLimit(t *testing.T) {
	bomb := ScanBombJPEG(256, 256, DefaultMaxScans) // one DC scan more than the limit
	for _, decode := range []struct {
		name string
		f    func() error
	}{
		{"Decode", func() error { _, err := Decode(bytes.NewReader(bomb), "bomb.jpg", 0); return err }},
		{"DecodeBudget", func() error {
			_, err := DecodeBudget(context.Background(), bomb, "bomb.jpg", Budget{})
			return err
		}},
	} {
		err := decode.f()
		var ie *ImageError
		if !errors.Is(err, ErrTooCostly) || !errors.As(err, &ie) || !strings.Contains(ie.Reason, "more than 100 scans") {
			t.Errorf("%s of a %d-scan JPEG: %v, want a refusal over the scan limit", decode.name, DefaultMaxScans+1, err)
		}
	}
	// Exactly at the limit is fine.
	if _, err := DecodeBudget(context.Background(), ScanBombJPEG(64, 64, DefaultMaxScans-1), "ok.jpg", Budget{}); err != nil {
		t.Errorf("a JPEG with %d scans: %v", DefaultMaxScans, err)
	}
	// A large image gets fewer scans: every scan is a pass over it.
	if got := scanLimit(25_000_000); got != minScans {
		t.Errorf("scan limit at 25 MP: %d, want %d", got, minScans)
	}
	if got := scanLimit(10_000_000); got != 50 {
		t.Errorf("scan limit at 10 MP: %d, want 50", got)
	}
	_, err := DecodeBudget(context.Background(), ScanBombJPEG(4096, 4096, scanLimit(4096*4096)), "big.jpg", Budget{})
	if !errors.Is(err, ErrTooCostly) {
		t.Errorf("a 4096x4096 JPEG one scan over its limit: %v", err)
	}
}

func TestJPEGScansIgnoresMarkerLookalikes(t *testing.T) {
	// 0xFFDA inside an APP segment and stuffed 0xFF00 / restart markers
	// inside entropy data are not scans.
	app := append([]byte{0xff, 0xe1, 0x00, 0x08}, 0xff, 0xda, 0xff, 0xda, 0, 0)
	data := append([]byte{0xff, 0xd8}, app...)
	data = append(data, 0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 63, 0)
	data = append(data, 0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56, 0xff, 0xff, 0xd9)
	if n := jpegScans(data, 10); n != 1 {
		t.Errorf("counted %d scans, want 1", n)
	}
}

func TestDecodeBudgetAbandonsWithItsContext(t *testing.T) {
	// As many scans as a 4096×4096 image may have: about a second of
	// decoding if nothing stopped it.
	bomb := ScanBombJPEG(4096, 4096, scanLimit(4096*4096)-1)
	budget := Budget{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DecodeBudget(ctx, bomb, "bomb.jpg", budget); !errors.Is(err, context.Canceled) {
		t.Fatalf("already cancelled: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := DecodeBudget(ctx, bomb, "bomb.jpg", budget)
	var ie *ImageError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ie) || ie.Path != "bomb.jpg" {
		t.Fatalf("decoding past the deadline: %v, want the deadline's error naming the file", err)
	}
}

func TestDecodedBytesBudget(t *testing.T) {
	img := image.NewNRGBA64(image.Rect(0, 0, 100, 100))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	// 100×100 at 8 bytes a pixel is 80,000 bytes.
	_, err := DecodeBudget(context.Background(), b.Bytes(), "deep.png", Budget{MaxDecodedBytes: 79_999})
	if !errors.Is(err, ErrTooCostly) || !strings.Contains(err.Error(), "16-bit colour image") {
		t.Errorf("a 16-bit PNG over the byte budget: %v", err)
	}
	if _, err := DecodeBudget(context.Background(), b.Bytes(), "deep.png", Budget{MaxDecodedBytes: 80_000}); err != nil {
		t.Errorf("a 16-bit PNG at the byte budget: %v", err)
	}
	// The same pixels at 8 bits cost half and pass a budget the 16-bit
	// image fails.
	b.Reset()
	png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 100, 100)))
	if _, err := DecodeBudget(context.Background(), b.Bytes(), "flat.png", Budget{MaxDecodedBytes: 40_000}); err != nil {
		t.Errorf("an 8-bit PNG within the byte budget: %v", err)
	}
}

func TestOverLimitIsTrue(t *testing.T) {
	for _, c := range []struct {
		w, h  int
		limit int64
		want  string
	}{
		{5001, 5000, 25_000_000, "5001x5000 = 25.005 MP, over the 25 MP limit"},
		{5000, 5001, 25_000_000, "5000x5001 = 25.005 MP, over the 25 MP limit"},
		{6000, 5000, 25_000_000, "6000x5000 = 30 MP, over the 25 MP limit"},
		{5000, 5000, 24_999_999, "5000x5000 = 25 MP, over the 24.999999 MP limit"},
		{100000, 100000, 50_000_000, "100000x100000 = 10000 MP, over the 50 MP limit"},
		{40, 30, 1000, "40x30 = 1200 pixels, over the 1000 pixels limit"},
	} {
		if got := overLimit(c.w, c.h, int64(c.w)*int64(c.h), c.limit); got != c.want {
			t.Errorf("overLimit(%d, %d, limit %d) = %q, want %q", c.w, c.h, c.limit, got, c.want)
		}
	}
}

func TestRGB16MatchesTheColourModel(t *testing.T) {
	// The fast 16-bit paths must give exactly what the generic path
	// (color.NRGBA64Model, high byte) gives, premultiplied alpha included.
	const w, h = 7, 5
	deep := image.NewRGBA64(image.Rect(0, 0, w, h))
	straight := image.NewNRGBA64(deep.Rect)
	grey := image.NewGray16(deep.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint16([]int{0, 1, 0x8000, 0xfffe, 0xffff}[(x+y)%5])
			v := uint16(x*9000 + y*700)
			deep.SetRGBA64(x, y, color.RGBA64{min(v, a), min(v/2, a), min(v/3, a), a})
			straight.SetNRGBA64(x, y, color.NRGBA64{v, v / 2, v / 3, a})
			grey.SetGray16(x, y, color.Gray16{v})
		}
	}
	for _, m := range []image.Image{deep, straight, grey} {
		fast := image.NewRGBA(deep.Rect)
		if !rgb16(m, fast) {
			t.Fatalf("%T has no fast path", m)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(m.At(x, y)).(color.NRGBA64)
				want := color.RGBA{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8), 255}
				if got := fast.RGBAAt(x, y); got != want {
					t.Fatalf("%T at (%d,%d): %v, want %v", m, x, y, got, want)
				}
			}
		}
	}
}

// BenchmarkScanBomb is the worst a JPEG within the scan limit can cost: a
// 25 MP grey image with as many scans as it may have, decoded to the end,
// and issue 17's file with 5001 scans, refused by the marker walk.
func BenchmarkScanBomb(b *testing.B) {
	within := ScanBombJPEG(5000, 5000, scanLimit(25_000_000)-1)
	over := ScanBombJPEG(5000, 5000, 5000)
	b.Run("20-scans-decoded", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeBudget(context.Background(), within, "bomb.jpg", Budget{MaxPixels: 25_000_000}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("5001-scans-refused", func(b *testing.B) {
		b.SetBytes(int64(len(over)))
		for b.Loop() {
			if _, err := DecodeBudget(context.Background(), over, "bomb.jpg", Budget{MaxPixels: 25_000_000}); !errors.Is(err, ErrTooCostly) {
				b.Fatal(err)
			}
		}
	})
}
