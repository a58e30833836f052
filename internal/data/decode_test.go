package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"runtime"
	"strings"
	"testing"
)

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// maxDiff is the largest channel difference between an RGBA result and the
// expected pattern.
func maxDiff(got *image.RGBA, want func(x, y int) color.RGBA) int {
	d := 0
	b := got.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g, w := got.RGBAAt(x, y), want(x, y)
			d = max(d, absDiff(g.R, w.R), absDiff(g.G, w.G), absDiff(g.B, w.B))
			if g.A != 255 {
				return 999
			}
		}
	}
	return d
}

func TestDecodeFormats(t *testing.T) {
	const w, h = 24, 16
	pat := func(x, y int) color.RGBA { return patternColor(x, y, w, h) }
	for _, tc := range []struct {
		format string
		tol    int // lossy formats
	}{
		{"jpeg", 12}, {"png", 0}, {"gif", 0}, {"bmp", 0}, {"tiff", 0},
	} {
		t.Run(tc.format, func(t *testing.T) {
			img, err := Decode(bytes.NewReader(encode(t, tc.format, patternImage(w, h))), "x", 0)
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds() != image.Rect(0, 0, w, h) {
				t.Fatalf("bounds %v", img.Bounds())
			}
			want := pat
			if tc.format == "gif" {
				want = func(x, y int) color.RGBA { return gifColor(pat(x, y)) }
			}
			if d := maxDiff(img, want); d > tc.tol {
				t.Errorf("max channel error %d > %d", d, tc.tol)
			}
		})
	}
	t.Run("webp", func(t *testing.T) {
		// tiny.webp is lossless: pixels must match the generator's formula.
		img, err := Decode(bytes.NewReader(readTestdata(t, "tiny.webp")), "tiny.webp", 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(img, func(x, y int) color.RGBA { return resizePatternColor(x, y) }); d != 0 || img.Bounds().Dx() != 5 {
			t.Errorf("max error %d, bounds %v", d, img.Bounds())
		}
	})
}

func TestDecodeErrorsNameFileAndReason(t *testing.T) {
	for _, b := range brokenFiles(t) {
		t.Run(b.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(b.data), "dir/"+b.name, 0)
			var ie *ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("err %v (%T), want *ImageError", err, err)
			}
			if !strings.HasPrefix(err.Error(), "dir/"+b.name+": ") || !strings.Contains(strings.ToLower(ie.Reason), strings.ToLower(b.reason)) {
				t.Errorf("err %q, want the file name and %q", err, b.reason)
			}
		})
	}
	_, err := DecodeFile("/nonexistent/photo.jpg", 0)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/photo.jpg: unreadable: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	for _, tc := range []struct {
		data  []byte
		class error
	}{
		{nil, ErrEmpty},
		{bombPNG(20000, 20000), ErrTooLarge},
		{[]byte("hello"), ErrNotImage},
		{[]byte("P5 1 1 255 x"), ErrUnsupported},
	} {
		if _, err := Decode(bytes.NewReader(tc.data), "f", 0); !errors.Is(err, tc.class) {
			t.Errorf("%q: err %v, want %v", tc.data[:min(8, len(tc.data))], err, tc.class)
		}
	}
}

func TestPixelLimitRefusesBeforeAllocating(t *testing.T) {
	bomb := bombPNG(100000, 100000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(bomb), "bomb.png", 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes refusing a bomb", alloc)
	}
	// A lower limit applies to normal images too, and exactly at the limit
	// is allowed.
	png := encode(t, "png", patternImage(10, 10))
	if _, err := Decode(bytes.NewReader(png), "p", 99); !errors.Is(err, ErrTooLarge) {
		t.Errorf("100 pixels under a 99 limit: %v", err)
	}
	if _, err := Decode(bytes.NewReader(png), "p", 100); err != nil {
		t.Errorf("100 pixels under a 100 limit: %v", err)
	}
}

func TestToRGBConversions(t *testing.T) {
	r := image.Rect(0, 0, 2, 1)
	gray := image.NewGray(r)
	gray.Pix = []uint8{0, 200}
	gray16 := image.NewGray16(r)
	gray16.SetGray16(1, 0, color.Gray16{0xabcd})
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0})   // fully transparent: colour kept, alpha dropped
	nrgba.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 128}) // half: same
	rgba := image.NewRGBA(r)
	rgba.SetRGBA(0, 0, color.RGBA{100, 50, 25, 128}) // premultiplied → straight 199,100,50
	rgba.SetRGBA(1, 0, color.RGBA{0, 0, 0, 0})
	nrgba64 := image.NewNRGBA64(r)
	nrgba64.SetNRGBA64(1, 0, color.NRGBA64{0x1234, 0xfedc, 0x8000, 0x0001})
	cmyk := image.NewCMYK(r)
	cmyk.SetCMYK(0, 0, color.CMYK{0, 255, 255, 0}) // red
	cmyk.SetCMYK(1, 0, color.CMYK{0, 0, 0, 255})   // black
	pal := image.NewPaletted(r, color.Palette{color.RGBA{0, 0, 0, 0}, color.NRGBA{10, 20, 30, 40}})
	pal.Pix = []uint8{1, 0}
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
	ycc.Y[0], ycc.Cb[0], ycc.Cr[0] = 76, 85, 255 // ~red
	ycc.Y[1], ycc.Cb[1], ycc.Cr[1] = 128, 128, 128

	for _, tc := range []struct {
		name string
		img  image.Image
		want [2][3]uint8
	}{
		{"gray", gray, [2][3]uint8{{0, 0, 0}, {200, 200, 200}}},
		{"gray16 keeps the high byte", gray16, [2][3]uint8{{0, 0, 0}, {0xab, 0xab, 0xab}}},
		{"nrgba drops alpha", nrgba, [2][3]uint8{{200, 100, 50}, {200, 100, 50}}},
		{"rgba un-premultiplies", rgba, [2][3]uint8{{199, 100, 50}, {0, 0, 0}}},
		{"nrgba64", nrgba64, [2][3]uint8{{0, 0, 0}, {0x12, 0xfe, 0x80}}},
		{"cmyk", cmyk, [2][3]uint8{{255, 0, 0}, {0, 0, 0}}},
		{"paletted", pal, [2][3]uint8{{10, 20, 30}, {0, 0, 0}}},
		{"ycbcr", ycc, [2][3]uint8{{254, 0, 0}, {128, 128, 128}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := toRGB(tc.img)
			for x := 0; x < 2; x++ {
				c := out.RGBAAt(x, 0)
				w := tc.want[x]
				if absDiff(c.R, w[0]) > 1 || absDiff(c.G, w[1]) > 1 || absDiff(c.B, w[2]) > 1 || c.A != 255 {
					t.Errorf("pixel %d: got %v, want %v", x, c, w)
				}
			}
		})
	}
	// A sub-image (non-zero origin) converts from its own origin.
	sub := gray.SubImage(image.Rect(1, 0, 2, 1))
	if c := toRGB(sub).RGBAAt(0, 0); c.R != 200 || toRGB(sub).Bounds() != image.Rect(0, 0, 1, 1) {
		t.Errorf("sub-image: %v", c)
	}
}

// withOrientation splices an APP1 Exif segment carrying the orientation tag
// right after the SOI marker of a JPEG, in big-endian (Motorola) order for
// even values and little-endian for odd ones, so both parsers run.
func withOrientation(t testing.TB, jp []byte, o int) []byte {
	t.Helper()
	var bo binary.ByteOrder = binary.BigEndian
	tiffHdr := []byte("MM\x00*\x00\x00\x00\x08")
	if o%2 == 1 {
		bo = binary.LittleEndian
		tiffHdr = []byte("II*\x00\x08\x00\x00\x00")
	}
	ifd := make([]byte, 2+2*12+4)
	bo.PutUint16(ifd, 2)
	// A harmless tag before the orientation, as cameras write Make first.
	bo.PutUint16(ifd[2:], 0x010f)
	bo.PutUint16(ifd[4:], 2)
	bo.PutUint32(ifd[6:], 4)
	copy(ifd[10:], "Go\x00\x00")
	bo.PutUint16(ifd[14:], 0x0112)
	bo.PutUint16(ifd[16:], 3)
	bo.PutUint32(ifd[18:], 1)
	bo.PutUint16(ifd[22:], uint16(o))
	body := append(append([]byte("Exif\x00\x00"), tiffHdr...), ifd...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(body)+2))
	out := append([]byte{}, jp[:2]...)
	out = append(out, seg...)
	out = append(out, body...)
	return append(out, jp[2:]...)
}

func TestEXIFOrientation(t *testing.T) {
	// The displayed picture is a 3x2 grid of flat 16-pixel blocks; for each
	// orientation the stored pixels are the inverse transform of it, and
	// decoding must give the displayed picture back.
	colors := []color.RGBA{{230, 30, 30, 255}, {30, 230, 30, 255}, {30, 30, 230, 255},
		{230, 230, 30, 255}, {30, 230, 230, 255}, {230, 30, 230, 255}}
	const bs = 16
	display := image.NewRGBA(image.Rect(0, 0, 3*bs, 2*bs))
	for y := 0; y < 2*bs; y++ {
		for x := 0; x < 3*bs; x++ {
			display.SetRGBA(x, y, colors[(y/bs)*3+x/bs])
		}
	}
	inverse := map[int]int{6: 8, 8: 6}
	for o := 1; o <= 8; o++ {
		inv := o
		if v, ok := inverse[o]; ok {
			inv = v
		}
		stored := orient(display, inv)
		jp := withOrientation(t, encode(t, "jpeg", stored), o)
		if got := jpegOrientation(jp); got != o {
			t.Fatalf("orientation %d parsed as %d", o, got)
		}
		img, err := Decode(bytes.NewReader(jp), "o.jpg", 0)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != display.Bounds() {
			t.Errorf("orientation %d: bounds %v, want %v", o, img.Bounds(), display.Bounds())
			continue
		}
		// Compare block centres (JPEG blurs the edges).
		for b, want := range colors {
			c := img.RGBAAt((b%3)*bs+bs/2, (b/3)*bs+bs/2)
			if absDiff(c.R, want.R) > 20 || absDiff(c.G, want.G) > 20 || absDiff(c.B, want.B) > 20 {
				t.Errorf("orientation %d: block %d is %v, want %v", o, b, c, want)
			}
		}
	}
}

func TestEXIFParserRejectsMalformed(t *testing.T) {
	good := withOrientation(t, encode(t, "jpeg", patternImage(8, 8)), 6)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"no exif", encode(t, "jpeg", patternImage(8, 8))},
		{"cut in the IFD", good[:40]},
		{"not jpeg", []byte("hello world")},
		{"value 9", withOrientation(t, encode(t, "jpeg", patternImage(8, 8)), 9)},
		{"value 0", withOrientation(t, encode(t, "jpeg", patternImage(8, 8)), 0)},
		{"segment length past the end", []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x'}},
		{"IFD offset past the end", append([]byte{0xff, 0xd8, 0xff, 0xe1, 0, 16}, "Exif\x00\x00MM\x00*\xff\xff\xff\xf0"...)},
	} {
		if got := jpegOrientation(tc.data); got != 1 {
			t.Errorf("%s: orientation %d, want 1", tc.name, got)
		}
	}
}

func TestGIFFirstFrameOnItsScreen(t *testing.T) {
	// A GIF whose first frame covers only part of the logical screen decodes
	// at the screen's size, the frame in place and black elsewhere.
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}}
	frame := image.NewPaletted(image.Rect(1, 1, 3, 2), pal)
	frame.Pix = []uint8{1, 1}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{frame}, Delay: []int{0},
		Config: image.Config{ColorModel: pal, Width: 4, Height: 3}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(bytes.NewReader(b.Bytes()), "f.gif", 0)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 4, 3) {
		t.Fatalf("bounds %v", img.Bounds())
	}
	if c := img.RGBAAt(0, 0); c != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("outside the frame: %v", c)
	}
	if c := img.RGBAAt(2, 1); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("inside the frame: %v", c)
	}
}

func BenchmarkDecodeJPEG474(b *testing.B) {
	jp := encode(b, "jpeg", resizePattern(474, 478))
	b.SetBytes(int64(len(jp)))
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(jp), "b.jpg", 0); err != nil {
			b.Fatal(err)
		}
	}
}

// tiffWithOrientation is a hand-made uncompressed little-endian 3x2 RGB TIFF
// whose pixel (x, y) is {10x+1, 100y+1, 7}, with an orientation tag.
func tiffWithOrientation(o uint16) []byte {
	type entry struct {
		tag, typ uint16
		val      uint32
	}
	const bitsAt, pixAt = 134, 140
	entries := []entry{{256, 3, 3}, {257, 3, 2}, {258, 3, bitsAt}, {259, 3, 1}, {262, 3, 2},
		{273, 4, pixAt}, {274, 3, uint32(o)}, {277, 3, 3}, {278, 3, 2}, {279, 4, 18}}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II*\x00")
	binary.Write(&b, le, uint32(8))
	binary.Write(&b, le, uint16(len(entries)))
	for _, e := range entries {
		count := uint32(1)
		if e.tag == 258 {
			count = 3
		}
		binary.Write(&b, le, e.tag)
		binary.Write(&b, le, e.typ)
		binary.Write(&b, le, count)
		if e.typ == 3 && count == 1 {
			binary.Write(&b, le, [2]uint16{uint16(e.val), 0})
		} else {
			binary.Write(&b, le, e.val)
		}
	}
	binary.Write(&b, le, uint32(0))
	binary.Write(&b, le, [3]uint16{8, 8, 8})
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			b.Write([]byte{uint8(10*x + 1), uint8(100*y + 1), 7})
		}
	}
	return b.Bytes()
}

func TestTIFFOrientation(t *testing.T) {
	px := func(x, y int) color.RGBA { return color.RGBA{uint8(10*x + 1), uint8(100*y + 1), 7, 255} }
	img, err := Decode(bytes.NewReader(tiffWithOrientation(1)), "t.tif", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(img, px); d != 0 || img.Bounds().Dx() != 3 {
		t.Fatalf("orientation 1: bounds %v, error %d", img.Bounds(), d)
	}
	// Orientation 6: turned clockwise, so the displayed top-left is the
	// stored bottom-left and the picture is 2 wide, 3 tall.
	img, err = Decode(bytes.NewReader(tiffWithOrientation(6)), "t.tif", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := func(x, y int) color.RGBA { return px(y, 1-x) }
	if d := maxDiff(img, want); d != 0 || img.Bounds() != image.Rect(0, 0, 2, 3) {
		t.Fatalf("orientation 6: bounds %v, error %d", img.Bounds(), d)
	}
}
