package data

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"time"

	"github.com/gen2brain/avif"
	"github.com/gen2brain/heic"
)

// AVIF and HEIC are what phones write. Both are HEIF files (ISO/IEC
// 23008-12: boxes holding items, one of them the primary image) with an
// AV1 or an HEVC picture inside. The pixels are decoded by the reference
// libraries (libavif with libaom, libheif with libde265) compiled to
// WebAssembly and run by a pure-Go runtime (github.com/gen2brain/avif and
// heic, on wazero): no cgo, and a decoder fault stays inside its sandbox.
// Builds pass -tags nodynamic (see the Makefile) so that those packages
// never load a system copy of the libraries instead, and so that a
// CGO_ENABLED=0 binary stays static.
//
// The header, though, is read here from the boxes, in Go: the size that
// the pixel and byte budgets check comes from the file's own declaration
// before any untrusted byte reaches a decoder, and costs microseconds, as
// the other formats' headers do (a server checks it before an upload
// waits for a worker).

// heifBrand is the format a HEIF file's ftyp box declares, or "" when the
// bytes do not start with an ftyp box of an image brand.
func heifBrand(b []byte) Format {
	if len(b) < 16 || string(b[4:8]) != "ftyp" {
		return ""
	}
	size := int(binary.BigEndian.Uint32(b))
	if size < 16 || size > len(b) {
		size = len(b) // the compatible brands may be cut by the sniffed prefix
	}
	brands := [][]byte{b[8:12]}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, b[i:i+4])
	}
	heicSeen := false
	for _, br := range brands {
		switch string(br) {
		case "avif", "avis":
			return AVIF // an AV1 picture, whatever else the file claims
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
			heicSeen = true
		}
	}
	if heicSeen {
		return HEIC
	}
	for _, br := range brands {
		if string(br) == "mif1" || string(br) == "msf1" {
			return HEIC // a generic HEIF file: phones put HEVC pictures in them
		}
	}
	return ""
}

// heifHeader is what the boxes say about the primary image.
type heifHeader struct {
	width, height int // the stored picture ("ispe"), before any turn
	turns         int // quarter turns anticlockwise in all ("irot")
	// transforms lists the primary item's irot and imir in the order the
	// file gives them (the order they apply in).
	transforms []heifTransform
	highDepth  bool // more than 8 bits a sample (AV1's high_bitdepth or "pixi")
}

type heifTransform struct {
	rotate bool // irot; otherwise imir
	value  int  // quarter turns anticlockwise, or the mirror axis (0: vertical, 1: horizontal)
}

// errHEIF marks a structure the box reader refuses.
var errHEIF = errors.New("corrupt HEIF structure")

func heifErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errHEIF, fmt.Sprintf(format, args...))
}

// eachBox calls f with the type and body of every box in b, in order.
func eachBox(b []byte, f func(typ string, body []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return heifErr("%d stray bytes after the last box", len(b))
		}
		size, head := uint64(binary.BigEndian.Uint32(b)), 8
		typ := string(b[4:8])
		switch size {
		case 0: // to the end of the enclosing box or file
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return heifErr("box %q: truncated 64-bit size", typ)
			}
			size, head = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < uint64(head) {
			return heifErr("box %q declares %d bytes", typ, size)
		}
		if size > uint64(len(b)) {
			return fmt.Errorf("box %q: %w", typ, io.ErrUnexpectedEOF)
		}
		if err := f(typ, b[head:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// fullBox skips a full box's version and flags, returning them.
func fullBox(body []byte, typ string) (version byte, flags uint32, rest []byte, err error) {
	if len(body) < 4 {
		return 0, 0, nil, heifErr("box %q is too short", typ)
	}
	return body[0], binary.BigEndian.Uint32(body) & 0xffffff, body[4:], nil
}

// readHEIFHeader finds the primary item's size and transforms in a HEIF
// file's meta box.
func readHEIFHeader(data []byte) (heifHeader, error) {
	// Every top-level box is walked, not only up to meta: a file cut short
	// ends inside its picture data (mdat), and is "truncated", not corrupt.
	var meta []byte
	err := eachBox(data, func(typ string, body []byte) error {
		if typ == "meta" && meta == nil {
			meta = body
		}
		return nil
	})
	if err != nil {
		return heifHeader{}, err
	}
	if meta == nil {
		return heifHeader{}, heifErr("no meta box")
	}
	_, _, meta, err = fullBox(meta, "meta")
	if err != nil {
		return heifHeader{}, err
	}
	primary := -1
	var props []heifProp // the boxes of ipco
	assoc := map[int][]int{}
	err = eachBox(meta, func(typ string, body []byte) error {
		switch typ {
		case "pitm":
			v, _, rest, err := fullBox(body, typ)
			if err != nil {
				return err
			}
			if primary, err = readID(rest, v, typ); err != nil {
				return err
			}
		case "iprp":
			return eachBox(body, func(typ string, body []byte) error {
				switch typ {
				case "ipco":
					return eachBox(body, func(typ string, body []byte) error {
						props = append(props, heifProp{typ, body})
						return nil
					})
				case "ipma":
					return readIPMA(body, assoc)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return heifHeader{}, err
	}
	if primary < 0 {
		return heifHeader{}, heifErr("no primary item (pitm)")
	}
	return primaryHeader(props, assoc[primary])
}

// heifProp is one item property box.
type heifProp struct {
	typ  string
	body []byte
}

// readID reads an item ID: 16 bits in version 0 boxes, 32 after.
func readID(b []byte, version byte, typ string) (int, error) {
	if version == 0 {
		if len(b) < 2 {
			return 0, heifErr("box %q is too short", typ)
		}
		return int(binary.BigEndian.Uint16(b)), nil
	}
	if len(b) < 4 {
		return 0, heifErr("box %q is too short", typ)
	}
	return int(binary.BigEndian.Uint32(b)), nil
}

// readIPMA adds the item property associations of an ipma box to assoc:
// item ID to 1-based ipco indices, in order.
func readIPMA(body []byte, assoc map[int][]int) error {
	v, flags, b, err := fullBox(body, "ipma")
	if err != nil {
		return err
	}
	if len(b) < 4 {
		return heifErr("ipma is too short")
	}
	n := binary.BigEndian.Uint32(b)
	b = b[4:]
	idLen, wide := 2, flags&1 == 1
	if v > 0 {
		idLen = 4
	}
	for range n {
		id, err := readID(b, v, "ipma")
		if err != nil {
			return err
		}
		b = b[idLen:]
		if len(b) < 1 {
			return heifErr("ipma is too short")
		}
		count := int(b[0])
		b = b[1:]
		for range count {
			switch {
			case wide && len(b) >= 2:
				assoc[id] = append(assoc[id], int(binary.BigEndian.Uint16(b)&0x7fff))
				b = b[2:]
			case !wide && len(b) >= 1:
				assoc[id] = append(assoc[id], int(b[0]&0x7f))
				b = b[1:]
			default:
				return heifErr("ipma is too short")
			}
		}
	}
	return nil
}

// primaryHeader reads the properties the primary item is associated with.
func primaryHeader(props []heifProp, indices []int) (heifHeader, error) {
	var h heifHeader
	for _, i := range indices {
		if i < 1 || i > len(props) {
			continue // 0 means "no property"; a dangling index names nothing
		}
		typ, body := props[i-1].typ, props[i-1].body
		switch typ {
		case "ispe":
			_, _, b, err := fullBox(body, typ)
			if err != nil || len(b) < 8 {
				return h, heifErr("ispe is too short")
			}
			h.width, h.height = int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint32(b[4:]))
		case "irot":
			if len(body) >= 1 {
				h.transforms = append(h.transforms, heifTransform{rotate: true, value: int(body[0] & 3)})
				h.turns += int(body[0] & 3)
			}
		case "imir":
			if len(body) >= 1 {
				h.transforms = append(h.transforms, heifTransform{value: int(body[0] & 1)})
			}
		case "av1C":
			h.highDepth = h.highDepth || len(body) >= 3 && body[2]&0x40 != 0
		case "pixi":
			_, _, b, err := fullBox(body, typ)
			if err == nil && len(b) >= 2 && int(b[0]) >= 1 && b[1] > 8 {
				h.highDepth = true
			}
		}
	}
	if h.width <= 0 || h.height <= 0 {
		return h, heifErr("the primary image declares no size (ispe)")
	}
	return h, nil
}

// exifOf is the EXIF orientation (1-8, as orient applies it) that shows
// the picture as the HEIF transforms would: it applies them to a 2x3 grid
// of distinct values and finds the orientation giving the same grid, which
// settles every order of turns and mirrors without a table to get wrong.
func (h heifHeader) exifOf() int {
	grid := image.NewRGBA(image.Rect(0, 0, 2, 3))
	for i := range 6 {
		grid.Pix[4*i] = uint8(i + 1)
	}
	want := grid
	for _, t := range h.transforms {
		switch {
		case t.rotate:
			for range t.value {
				want = orient(want, 8) // a quarter turn anticlockwise
			}
		case t.value == 0:
			want = orient(want, 2) // mirrored about the vertical axis
		default:
			want = orient(want, 4)
		}
	}
	for o := 1; o <= 8; o++ {
		if got := orient(grid, o); got.Rect == want.Rect && bytes.Equal(got.Pix, want.Pix) {
			return o
		}
	}
	return 1
}

// heifConfig is the codecs' header reader for both formats. libheif
// applies the transforms itself, so a HEIC's size is the turned one; an
// AVIF is decoded as stored and turned afterwards (heifOrientation).
func heifConfig(f Format) func(io.Reader) (image.Config, error) {
	return func(r io.Reader) (image.Config, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return image.Config{}, err
		}
		h, err := readHEIFHeader(b)
		if err != nil {
			return image.Config{}, err
		}
		cfg := image.Config{Width: h.width, Height: h.height, ColorModel: color.RGBAModel}
		if h.highDepth && f == AVIF {
			cfg.ColorModel = color.RGBA64Model
		}
		if f == HEIC && h.turns%2 == 1 {
			cfg.Width, cfg.Height = h.height, h.width
		}
		if f == HEIC && cfg.Width < minHEICWidth {
			return image.Config{}, heicTooNarrow{cfg.Width}
		}
		return cfg, nil
	}
}

// minHEICWidth is the narrowest HEIC decoded. The decoder hands its planes
// over with rows of at least 64 bytes, while the Go side of the package
// reads them 16-byte aligned: both agree once a chroma row is 64 bytes or
// more (measured at widths 112 to 4032), and below that the colours come
// out wrong. Phone photos are far wider; a tiny HEIC is refused rather
// than shown with wrong colours.
const minHEICWidth = 112

type heicTooNarrow struct{ width int }

func (e heicTooNarrow) Error() string {
	return fmt.Sprintf("a HEIC %d pixels wide; HEIC photos narrower than %d pixels are not decoded (the decoder garbles their colours)",
		e.width, minHEICWidth)
}

// heifPixelsPerSecond is a slow machine's pace of the WebAssembly
// decoders (a 12 MP photo took 3-5 s on the 2-core test machine under a
// load of 17). They run to the end once started, whatever the caller's
// context, so DecodeBudget refuses a picture that would not be decoded
// before the context's deadline at this pace rather than hold a worker
// for nothing.
const heifPixelsPerSecond = 2_000_000

// heifTime is how long decoding w×h pixels may take at that pace.
func heifTime(w, h int) time.Duration {
	return time.Duration(float64(w) * float64(h) / heifPixelsPerSecond * float64(time.Second))
}

// heifOrientation is the orientation to apply to a decoded HEIF picture.
func heifOrientation(f Format, data []byte) int {
	if f != AVIF {
		return 1
	}
	h, err := readHEIFHeader(data)
	if err != nil {
		return 1
	}
	return h.exifOf()
}

// heifBytesPerPixel is what decoding costs a pixel, for the budget: the
// decoder's picture planes and its RGB output inside the WebAssembly
// memory, which the Go image then shares (a high-depth AVIF is also copied
// out as 16-bit RGBA).
func heifBytesPerPixel(m color.Model) int {
	if m == color.RGBA64Model {
		return 3 + 8 + 8
	}
	return 2 + 4
}

func decodeAVIF(r io.Reader) (image.Image, error) { return avif.Decode(r) }
func decodeHEIC(r io.Reader) (image.Image, error) { return heic.Decode(r) }
