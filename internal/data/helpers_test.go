package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// patternColor is a smooth, asymmetric test pattern: every quadrant differs,
// so rotations and flips are visible, and JPEG keeps it within a few levels.
func patternColor(x, y, w, h int) color.RGBA {
	return color.RGBA{uint8(40 + 180*x/max(w-1, 1)), uint8(40 + 180*y/max(h-1, 1)), uint8(200 - 100*x*y/max((w-1)*(h-1), 1)), 255}
}

func patternImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, patternColor(x, y, w, h))
		}
	}
	return img
}

// gifColor is what encode's GIF holds for c.
func gifColor(c color.RGBA) color.RGBA {
	r, g, b, _ := color.Palette(palette.Plan9).Convert(c).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
}

// encode writes img in the named format.
func encode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "png":
		err = png.Encode(&b, img)
	case "gif":
		// Nearest Plan 9 colour without dithering, so tests know the
		// exact pixels (see gifColor).
		err = gif.Encode(&b, img, &gif.Options{NumColors: 256, Drawer: draw.Src})
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tiff":
		err = tiff.Encode(&b, img, nil)
	case "webp":
		return readTestdata(t, "tiny.webp")
	default:
		t.Fatalf("unknown format %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pngChunk builds one PNG chunk with its CRC.
func pngChunk(typ string, body []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(body)))
	b.WriteString(typ)
	b.Write(body)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	return b.Bytes()
}

// bombPNG is a valid PNG header declaring w x h 8-bit RGB pixels followed by
// a tiny IDAT and IEND: decoding it would allocate w*h*4 bytes.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit truecolour
	b.Write(pngChunk("IHDR", ihdr))
	b.Write(pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// brokenFiles are the broken/ set: name, bytes, and a substring the skip
// reason must contain.
func brokenFiles(t testing.TB) []struct {
	name, reason string
	data         []byte
} {
	jp := encode(t, "jpeg", patternImage(64, 48))
	pn := encode(t, "png", patternImage(64, 48))
	return []struct {
		name, reason string
		data         []byte
	}{
		{"empty.jpg", "zero-byte file", nil},
		{"truncated.jpg", "truncated jpeg", jp[:len(jp)/2]},
		{"truncated.png", "truncated png", pn[:len(pn)/2]},
		{"cut_in_tables.jpg", "truncated jpeg", jp[:300]},
		{"text.jpg", "not an image", []byte("these are not the pixels you are looking for\n")},
		{"bomb.png", "declares 100000x100000 = 10000 MP, over the 50 MP limit", bombPNG(100000, 100000)},
		{"picture.ppm", "unsupported format: PNM", []byte("P6\n2 2\n255\n\x00\x00\x00\xff\xff\xff\x00\x00\x00\xff\xff\xff")},
		{"phone.jxl", "unsupported format: JPEG XL", []byte("\xff\x0a\xfa\x7f\x01\x90\x08\x06\x01\x00\x64\x00\x4b\x38")},
		{"phone.heic", "corrupt HEIC: corrupt HEIF structure: no meta box", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")},
		{"arith.jpg", "unsupported format: jpeg", arithmeticJPEG(jp)},
	}
}

// arithmeticJPEG turns a baseline JPEG into one claiming arithmetic coding
// (SOF9), a valid variant Go's decoder does not implement.
func arithmeticJPEG(jp []byte) []byte {
	out := bytes.Clone(jp)
	if i := bytes.Index(out, []byte{0xff, 0xc0}); i >= 0 {
		out[i+1] = 0xc9
	}
	return out
}

// testFolder is a generated ImageFolder: three classes of good images in
// every format, a broken/ class, duplicates within and across classes,
// hidden files and a stray file at the root.
type testFolder struct {
	root   string
	good   map[string][]string // class -> file names of usable images
	broken map[string]string   // path -> expected reason substring
	dups   [][]string          // expected duplicate groups (relative paths)
}

func makeFolder(t testing.TB) *testFolder {
	t.Helper()
	root := t.TempDir()
	f := &testFolder{root: root, good: map[string][]string{}, broken: map[string]string{}}
	add := func(class, name string, data []byte) {
		writeFile(t, filepath.Join(root, class, name), data)
		f.good[class] = append(f.good[class], name)
	}
	formats := []string{"jpeg", "png", "gif", "bmp", "tiff"}
	for ci, class := range []string{"carol", "alice", "bob"} { // created unsorted on purpose
		for k := 0; k < 5; k++ {
			// Different sizes per file, so no accidental duplicates.
			format := formats[(k+ci)%len(formats)]
			add(class, class+string(rune('0'+k))+"."+format, encode(t, format, patternImage(20+3*k+ci, 16+2*k)))
		}
	}
	// Only one WebP fixture exists (a second copy would be a duplicate).
	add("alice", "alice5.webp", encode(t, "webp", nil))
	// Duplicates: bytes of alice0 again inside alice, and bob1's in carol.
	a0, _ := os.ReadFile(filepath.Join(root, "alice", f.good["alice"][0]))
	add("alice", "zz_copy_of_alice0", a0)
	b1, _ := os.ReadFile(filepath.Join(root, "bob", f.good["bob"][1]))
	add("carol", "from_bob", b1)
	f.dups = [][]string{
		{"alice/" + f.good["alice"][0], "alice/zz_copy_of_alice0"},
		{"bob/" + f.good["bob"][1], "carol/from_bob"},
	}
	// Nested folder inside a class counts for that class (as torchvision's
	// recursive walk does).
	add("bob", "extra/nested.png", encode(t, "png", patternImage(11, 9)))
	for _, b := range brokenFiles(t) {
		p := filepath.Join(root, "broken", b.name)
		writeFile(t, p, b.data)
		f.broken[p] = b.reason
	}
	writeFile(t, filepath.Join(root, "alice", ".DS_Store"), []byte("junk"))
	writeFile(t, filepath.Join(root, ".hidden", "x.png"), encode(t, "png", patternImage(5, 5)))
	writeFile(t, filepath.Join(root, "README.txt"), []byte("a stray file at the root"))
	return f
}
