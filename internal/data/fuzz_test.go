package data

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The committed seed corpus lives in testdata/fuzz; these targets also run
// over it as ordinary tests.

func FuzzJPEGOrientation(f *testing.F) {
	f.Add([]byte{0xff, 0xd8, 0xff, 0xd9})
	f.Add(withOrientation(f, encode(f, "jpeg", patternImage(4, 4)), 6))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
		if len(data) > 6 {
			if o := exifOrientation(data[6:]); o < 1 || o > 8 {
				t.Fatalf("exif orientation %d", o)
			}
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "tiff", "webp"} {
		f.Add(encode(f, format, patternImage(6, 5)))
	}
	f.Add(bombPNG(5000, 5000))
	f.Add(tiffWithOrientation(6))
	// The phones' formats: their boxes are read by our own parser before
	// the WebAssembly decoder sees the bytes.
	for _, name := range []string{"quadrants.avif", "quadrants.heic"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const limit = 1 << 20 // keeps each input cheap to decode
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(bytes.NewReader(data), "fuzz", limit)
		if err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Path != "fuzz" || ie.Reason == "" {
				t.Fatalf("error %v (%T) is not an *ImageError naming the file", err, err)
			}
			return
		}
		b := img.Bounds()
		if b.Empty() || b.Min.X != 0 || b.Min.Y != 0 || b.Dx()*b.Dy() > limit {
			t.Fatalf("bounds %v", b)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 255 {
				t.Fatal("result is not opaque")
			}
		}
	})
}
