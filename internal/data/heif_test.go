package data

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gen2brain/avif"
)

// quadrants is a w x h picture of four flat colours, which survive lossy
// coding well enough to tell a turned or mirrored picture.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, quadrantColour(x >= w/2, y >= h/2))
		}
	}
	return img
}

func quadrantColour(right, bottom bool) color.RGBA {
	switch {
	case right && !bottom:
		return color.RGBA{30, 200, 30, 255}
	case !right && bottom:
		return color.RGBA{30, 30, 220, 255}
	case right && bottom:
		return color.RGBA{240, 240, 240, 255}
	}
	return color.RGBA{220, 30, 30, 255}
}

// checkQuadrants fails unless the middle of each quarter of img has the
// colour quadrants puts there (the fixtures are lossy).
func checkQuadrants(t *testing.T, img *image.RGBA, w, h int) {
	t.Helper()
	if img.Rect != image.Rect(0, 0, w, h) {
		t.Fatalf("decoded %v, want %dx%d", img.Rect, w, h)
	}
	for _, q := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		x, y := w/4, h/4
		if q[0] {
			x += w / 2
		}
		if q[1] {
			y += h / 2
		}
		got, want := img.RGBAAt(x, y), quadrantColour(q[0], q[1])
		for c, d := range []int{int(got.R) - int(want.R), int(got.G) - int(want.G), int(got.B) - int(want.B)} {
			if d < -24 || d > 24 {
				t.Errorf("pixel (%d,%d) is %v, want about %v (channel %d)", x, y, got, want, c)
			}
		}
	}
}

// regenAVIF rewrites testdata/quadrants.avif with the pure-Go (WebAssembly)
// AVIF encoder. The encoder takes 10-40 s to compile and run on the test
// machine, too slow for every test run, so its output is committed:
//
//	go test -tags nodynamic ./internal/data -run AVIF -regen-avif
var regenAVIF = flag.Bool("regen-avif", false, "rewrite testdata/quadrants.avif from the generated picture")

// avifFixture is quadrants(65, 47) as AVIF (odd sizes, so that chroma
// subsampling has a half pixel to round).
func avifFixture(t *testing.T) []byte {
	t.Helper()
	if *regenAVIF {
		var b bytes.Buffer
		err := avif.Encode(&b, quadrants(65, 47), avif.Options{Quality: 90, Speed: 10, ChromaSubsampling: image.YCbCrSubsampleRatio420})
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join("testdata", "quadrants.avif"), b.Bytes())
	}
	return readTestdata(t, "quadrants.avif")
}

func TestDecodeAVIFAndHEIC(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "photo.avif")
	avifBytes := avifFixture(t)
	writeFile(t, path, avifBytes)
	img, err := DecodeFile(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkQuadrants(t, img, 65, 47)

	// The fixture was made with libheif's heif-enc from the same picture at
	// 128x96 (no Go encoder writes HEIC).
	img, err = Decode(bytes.NewReader(readTestdata(t, "quadrants.heic")), "quadrants.heic", 0)
	if err != nil {
		t.Fatal(err)
	}
	checkQuadrants(t, img, 128, 96)

	// A header that understates the picture never gives a larger image
	// than the budget was checked for (libavif decodes at most the
	// declared size).
	small := bytes.Clone(avifBytes)
	i := bytes.Index(small, []byte("ispe"))
	binary.BigEndian.PutUint32(small[i+8:], 20)
	if img, err := Decode(bytes.NewReader(small), "small.avif", 0); err == nil && img.Rect.Dx() > 20 {
		t.Errorf("understated AVIF decoded to %v", img.Rect)
	}
	// Cut short or damaged: an error naming the file, never a panic.
	heicBytes := readTestdata(t, "quadrants.heic")
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"cut.avif":     {avifBytes[:len(avifBytes)-40], "truncated AVIF"},
		"garbage.avif": {append(bytes.Clone(avifBytes[:len(avifBytes)-60]), bytes.Repeat([]byte{0xa5}, 60)...), "AVIF"},
		"cut.heic":     {heicBytes[:len(heicBytes)-40], "truncated HEIC"},
	} {
		_, err := Decode(bytes.NewReader(tc.b), name, 0)
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Path != name || !strings.Contains(ie.Reason, tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// box builds an ISOBMFF box; a full box's version and flags lead body.
func box(typ string, body ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(bytes.Join(body, nil))))
	return append(append(b, typ...), bytes.Join(body, nil)...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// heifFile is the header of a HEIF file whose primary item 1 has an ispe
// of w x h and the given extra properties, in order.
func heifFile(brand string, w, h uint32, extra ...[]byte) []byte {
	props := append([][]byte{box("ispe", u32(0), u32(w), u32(h))}, extra...)
	assoc := []byte{0, 1, byte(len(props))} // item 1, that many properties
	for i := range props {
		assoc = append(assoc, byte(i+1))
	}
	ipma := box("ipma", u32(0), u32(1), assoc)
	meta := box("meta", u32(0), box("hdlr", u32(0), u32(0), []byte("pict"), make([]byte, 13)),
		box("pitm", u32(0), []byte{0, 1}), box("iprp", box("ipco", props...), ipma))
	return append(box("ftyp", []byte(brand), u32(0), []byte("mif1"), []byte(brand)), meta...)
}

// The pixel limit and the decoding budget hold for AVIF and HEIC as for
// the other formats: refused from the boxes, before a decoder runs.
func TestHEIFHeaderBudget(t *testing.T) {
	for _, brand := range []string{"avif", "heic"} {
		huge := heifFile(brand, 100_000, 100_000)
		err := CheckBudget(huge, "huge."+brand, Budget{})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s of 10 gigapixels: %v", brand, err)
		}
		if _, err := Decode(bytes.NewReader(huge), "huge."+brand, 0); !errors.Is(err, ErrTooLarge) {
			t.Errorf("decoding a %s of 10 gigapixels: %v", brand, err)
		}
		// 4000x3000 passes the pixel limit; the bytes a pixel of the
		// WebAssembly decoder do not fit a 4-bytes-a-pixel budget.
		big := heifFile(brand, 4000, 3000)
		if err := CheckBudget(big, "big."+brand, Budget{MaxPixels: 12_000_000}); err != nil {
			t.Errorf("%s within the pixel limit: %v", brand, err)
		}
		if err := CheckBudget(big, "big."+brand, Budget{MaxPixels: 12_000_000, MaxDecodedBytes: 4 * 12_000_000}); !errors.Is(err, ErrTooCostly) {
			t.Errorf("%s over the byte budget: %v", brand, err)
		}
	}
	// A narrow HEIC would come out with wrong colours: refused.
	if err := CheckBudget(heifFile("heic", 80, 60), "narrow.heic", Budget{}); !errors.Is(err, ErrUnsupported) ||
		!strings.Contains(err.Error(), "narrower than 112") {
		t.Errorf("narrow HEIC: %v", err)
	}
	// The decoders cannot be stopped: a photo that would outlast the
	// caller's deadline is refused before one starts.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := DecodeBudget(ctx, heifFile("avif", 4000, 3000), "slow.avif", Budget{}); !errors.Is(err, ErrTooCostly) ||
		!strings.Contains(err.Error(), "to decode") {
		t.Errorf("AVIF past the deadline: %v", err)
	}
	for name, b := range map[string][]byte{
		"no meta":      box("ftyp", []byte("avif"), u32(0), []byte("avif")),
		"no size":      heifFile("avif", 0, 0),
		"bad box size": append(heifFile("avif", 8, 8)[:28], 0, 0, 0, 3, 'm', 'e', 't', 'a'),
	} {
		if err := CheckBudget(b, name, Budget{}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHEIFBrandsAndTransforms(t *testing.T) {
	for brand, want := range map[string]Format{"avif": AVIF, "avis": AVIF, "heic": HEIC, "heix": HEIC, "mif1": HEIC, "isom": ""} {
		if got := heifBrand(heifFile(brand, 8, 8)[:sniffLen]); got != want && !(brand == "isom" && got == HEIC) {
			t.Errorf("brand %s: %q, want %q", brand, got, want)
		}
	}
	// A generic mif1 file that lists avif among its brands is an AVIF.
	if got := heifBrand(box("ftyp", []byte("mif1"), u32(0), []byte("mif1miafavif"))); got != AVIF {
		t.Errorf("mif1 listing avif: %q", got)
	}
	for _, tc := range []struct {
		extra [][]byte
		exif  int
	}{
		{nil, 1},
		{[][]byte{box("irot", []byte{1})}, 8},
		{[][]byte{box("irot", []byte{2})}, 3},
		{[][]byte{box("irot", []byte{3})}, 6},
		{[][]byte{box("imir", []byte{0})}, 2},
		{[][]byte{box("imir", []byte{1})}, 4},
		{[][]byte{box("irot", []byte{1}), box("imir", []byte{0})}, 7},
	} {
		h, err := readHEIFHeader(heifFile("avif", 40, 30, tc.extra...))
		if err != nil {
			t.Fatal(err)
		}
		if got := h.exifOf(); got != tc.exif || h.width != 40 || h.height != 30 {
			t.Errorf("transforms %q: EXIF orientation %d (size %dx%d), want %d", tc.extra, got, h.width, h.height, tc.exif)
		}
	}
	// A turned AVIF is shown upright.
	turned := heifFile("avif", 40, 30, box("irot", []byte{1}))
	if hd, err := readHeader(turned, "turned.avif", 0); err != nil || hd.orientation != 8 {
		t.Errorf("turned AVIF header: %+v %v", hd, err)
	}
	// libheif turns a HEIC itself: its header gives the turned size.
	if hd, err := readHeader(heifFile("heic", 400, 300, box("irot", []byte{3})), "turned.heic", 0); err != nil ||
		hd.orientation != 1 || hd.width != 300 || hd.height != 400 {
		t.Errorf("turned HEIC header: %+v %v", hd, err)
	}
}

// The WebAssembly decoders' cost per photo beyond their one-time
// compilation: instantiating the module and decoding a small fixture.
func BenchmarkDecodeHEIF(b *testing.B) {
	for _, name := range []string{"quadrants.avif", "quadrants.heic"} {
		data := readTestdata(b, name)
		if _, err := Decode(bytes.NewReader(data), name, 0); err != nil { // compile outside the timing
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Decode(bytes.NewReader(data), name, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
