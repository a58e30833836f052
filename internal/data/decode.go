// Package data turns a folder of photos into training batches: an ImageFolder
// scan (one sub-folder per class, as torchvision's ImageFolder), decoding of
// the common photo formats into 8-bit RGB with EXIF orientation applied,
// seeded stratified splits, the tutorial's transforms (resize as PIL does it,
// ToTensor, Normalize, optional augmentation) and a loader that decodes on
// worker goroutines ahead of the training step.
//
// Broken files never stop a run: Scan lists them with a reason, and the loader
// reports a file that became unreadable through its iterator and carries on.
package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the largest image (width times height) decoded unless a
// caller asks otherwise: 50 MP is above any phone camera, and a decoded RGBA
// image of that size already takes 200 MB.
const DefaultMaxPixels = 50_000_000

// Format is an image container format that starid can decode.
type Format string

// Decodable formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
	WEBP Format = "webp"
	AVIF Format = "avif"
	HEIC Format = "heic"
)

// String is the name used in messages ("truncated JPEG").
func (f Format) String() string { return strings.ToUpper(string(f)) }

// codec pairs a format's header reader and decoder. The formats are matched
// by magic bytes here rather than registered with package image, so that a
// file's extension never matters and so that we know which format failed.
type codec struct {
	format Format
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = []codec{
	{JPEG, jpeg.DecodeConfig, jpeg.Decode},
	{PNG, png.DecodeConfig, png.Decode},
	// gif.Decode returns the first frame of an animation, which is what a
	// photo library means by "the picture".
	{GIF, gif.DecodeConfig, gif.Decode},
	{BMP, bmp.DecodeConfig, bmp.Decode},
	{TIFF, tiff.DecodeConfig, tiff.Decode},
	{WEBP, webp.DecodeConfig, webp.Decode},
	{AVIF, heifConfig(AVIF), decodeAVIF},
	{HEIC, heifConfig(HEIC), decodeHEIC},
}

// sniffLen is how many leading bytes sniff looks at: enough for a HEIF
// file's list of compatible brands.
const sniffLen = 64

// sniff identifies a format from the leading bytes. It returns the codec for
// formats we decode, or a non-empty name for image formats we recognise but
// cannot decode (so the reason can say "unsupported format: HEIC" rather than
// "not an image").
func sniff(b []byte) (c *codec, unsupported string) {
	has := func(off int, magic string) bool {
		return len(b) >= off+len(magic) && string(b[off:off+len(magic)]) == magic
	}
	pick := func(f Format) *codec {
		for i := range codecs {
			if codecs[i].format == f {
				return &codecs[i]
			}
		}
		return nil
	}
	switch {
	case has(0, "\xff\xd8\xff"):
		return pick(JPEG), ""
	case has(0, "\x89PNG\r\n\x1a\n"):
		return pick(PNG), ""
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return pick(GIF), ""
	case has(0, "BM"):
		return pick(BMP), ""
	case has(0, "II*\x00"), has(0, "MM\x00*"):
		return pick(TIFF), ""
	case has(0, "RIFF") && has(8, "WEBP"):
		return pick(WEBP), ""
	case heifBrand(b) != "":
		return pick(heifBrand(b)), ""
	case has(0, "\xff\x0a"), has(0, "\x00\x00\x00\x0cJXL \r\n\x87\n"):
		return nil, "JPEG XL"
	case has(0, "\x00\x00\x00\x0cjP  \r\n\x87\n"), has(0, "\xff\x4f\xff\x51"):
		return nil, "JPEG 2000"
	case has(0, "II\xbc"):
		return nil, "JPEG XR"
	case has(0, "8BPS"):
		return nil, "PSD"
	case has(0, "\x00\x00\x01\x00"):
		return nil, "ICO"
	case has(0, "II\x2a\x00\x10\x00\x00\x00CR"), has(0, "FUJIFILMCCD-RAW"):
		return nil, "camera raw"
	case len(b) >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7':
		return nil, "PNM"
	}
	return nil, ""
}

// ImageError says which file failed and why. Reason is short and meant for
// people ("zero-byte file", "truncated JPEG: unexpected EOF").
type ImageError struct {
	Path   string
	Reason string
	Err    error // underlying error, if any
}

func (e *ImageError) Error() string { return e.Path + ": " + e.Reason }
func (e *ImageError) Unwrap() error { return e.Err }

// Reason classes, so callers can tell a hostile file from a broken one
// with errors.Is.
var (
	ErrNotImage    = errors.New("not an image")
	ErrUnsupported = errors.New("unsupported format")
	ErrTooLarge    = errors.New("over the pixel limit")
	ErrTruncated   = errors.New("truncated")
	ErrEmpty       = errors.New("zero-byte file")
)

// reasonErr carries a reason class (for errors.Is) and the decoder's own
// error (for errors.As) under an ImageError.
type reasonErr struct {
	class  error
	reason string
	err    error
}

func (e *reasonErr) Error() string   { return e.reason }
func (e *reasonErr) Is(t error) bool { return t == e.class }
func (e *reasonErr) Unwrap() error   { return e.err }

func fail(path string, class error, err error, format string, args ...any) *ImageError {
	reason := fmt.Sprintf(format, args...)
	return &ImageError{Path: path, Reason: reason, Err: &reasonErr{class, reason, err}}
}

// header is what a format's header tells before any pixel is decoded.
type header struct {
	codec       *codec
	width       int // stored size, before EXIF orientation
	height      int
	orientation int // EXIF orientation 1-8 (JPEG and TIFF; 1 otherwise)
	model       color.Model
	// bytesPerPixel, when not 0, is what decoding costs a pixel in place
	// of the colour model's price (the WebAssembly decoders' own memory).
	bytesPerPixel int
}

// displaySize is the size after EXIF orientation.
func (h header) displaySize() (w, h2 int) {
	if h.orientation >= 5 {
		return h.height, h.width
	}
	return h.width, h.height
}

// readHeader reads a format's header from the whole file's bytes and
// enforces the pixel limit. All refusals are *ImageError naming name.
func readHeader(data []byte, name string, maxPixels int) (header, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(data) == 0 {
		return header{}, fail(name, ErrEmpty, nil, "zero-byte file")
	}
	lead := data[:min(sniffLen, len(data))]
	c, other := sniff(lead)
	if c == nil {
		if other != "" {
			return header{}, fail(name, ErrUnsupported, nil, "unsupported format: %s", other)
		}
		return header{}, fail(name, ErrNotImage, nil, "not an image (leading bytes %q)", printable(lead[:min(8, len(lead))]))
	}
	h := header{codec: c, orientation: 1}
	cfg, err := safeConfig(c, data)
	if err != nil {
		return header{}, classify(name, c.format, data, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, fail(name, ErrNotImage, nil, "%s header declares an empty %dx%d image", c.format, cfg.Width, cfg.Height)
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if px > int64(maxPixels) {
		return header{}, fail(name, ErrTooLarge, nil, "declares %s", overLimit(cfg.Width, cfg.Height, px, int64(maxPixels)))
	}
	h.width, h.height, h.model = cfg.Width, cfg.Height, cfg.ColorModel
	switch c.format {
	case JPEG:
		if err := checkScans(data, name, cfg.Width, cfg.Height); err != nil {
			return header{}, err
		}
		h.orientation = jpegOrientation(data)
	case TIFF:
		// A TIFF file is itself the structure EXIF borrows: the tag sits
		// in its first IFD.
		h.orientation = exifOrientation(data)
	case AVIF, HEIC:
		h.orientation = heifOrientation(c.format, data)
		h.bytesPerPixel = heifBytesPerPixel(cfg.ColorModel)
	}
	return h, nil
}

// safeConfig reads a header, turning a decoder panic into an error.
func safeConfig(c *codec, data []byte) (cfg image.Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("header reader failed: %v", p)
		}
	}()
	return c.config(bytes.NewReader(data))
}

// MaxFileBytes bounds how much of one file is read into memory: far above
// any photo, and above an uncompressed 16-bit 50 MP TIFF.
const MaxFileBytes = 1 << 30

// readAll reads r whole, refusing more than MaxFileBytes.
func readAll(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, &ImageError{Path: name, Reason: "unreadable: " + unwrapPathError(err), Err: err}
	}
	if len(data) > MaxFileBytes {
		return nil, fail(name, ErrTooLarge, nil, "file larger than %d MB", MaxFileBytes>>20)
	}
	return data, nil
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// classify turns a decoder error into a reason. data is the whole file: a
// decoder that stumbles over a file lacking its closing structure has almost
// always run off a cut-short file, whatever its own message says ("short
// Huffman data").
func classify(name string, f Format, data []byte, err error) *ImageError {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// PNG and TIFF word a short file this way.
		strings.Contains(err.Error(), "not enough pixel data"):
		return fail(name, ErrTruncated, err, "truncated %s: %v", f, io.ErrUnexpectedEOF)
	case isUnsupported(err), errors.As(err, new(heicTooNarrow)):
		return fail(name, ErrUnsupported, err, "unsupported format: %s variant (%v)", f, err)
	case errors.Is(err, errHEIF):
		return fail(name, ErrNotImage, err, "corrupt %s: %v", f, err)
	case f != BMP && f != TIFF && f != AVIF && f != HEIC && !endsWell(f, data):
		return fail(name, ErrTruncated, err, "truncated %s: %v", f, err)
	}
	return fail(name, ErrNotImage, err, "corrupt %s: %v", f, err)
}

// isUnsupported recognises the decoders' "valid but not implemented" errors
// (arithmetic-coded or 12-bit JPEG, animated WebP, TIFF compressions…).
func isUnsupported(err error) bool {
	var j jpeg.UnsupportedError
	var p png.UnsupportedError
	var t tiff.UnsupportedError
	return errors.As(err, &j) || errors.As(err, &p) || errors.As(err, &t) ||
		errors.Is(err, bmp.ErrUnsupported)
}

// DecodeFile reads and decodes one image file; see Decode.
func DecodeFile(path string, maxPixels int) (*image.RGBA, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return decodeBytes(data, path, maxPixels)
}

// readFile reads a whole regular file with the MaxFileBytes bound.
func readFile(path string) ([]byte, error) { return ReadFile(path, 0) }

func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Decode decodes one image (jpeg, png, gif's first frame, bmp, tiff, webp, avif, heic)
// from r into 8-bit RGB, applying the EXIF orientation of JPEG and TIFF files. The
// result is an *image.RGBA whose alpha is 255 everywhere: transparency is
// dropped, not composited, as PIL's convert("RGB") does, and 16-bit samples
// keep their high byte. The header is read first and an image declaring more
// than maxPixels pixels (0 means DefaultMaxPixels) is refused before any
// pixel memory is allocated. name only labels errors, which are *ImageError.
func Decode(r io.Reader, name string, maxPixels int) (*image.RGBA, error) {
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	return decodeBytes(data, name, maxPixels)
}

// decodeBytes is Decode for a file already in memory (Scan hashes the same
// bytes it decodes).
func decodeBytes(data []byte, name string, maxPixels int) (*image.RGBA, error) {
	return DecodeBudget(context.Background(), data, name, Budget{MaxPixels: maxPixels})
}

// decodeBody runs the decoder, turning a panic from hostile bytes into an
// error: a training run must not die on one file.
func decodeBody(data []byte, h header) (img *image.RGBA, err error) {
	return decodeBodyFrom(bytes.NewReader(data), h)
}

// decodeBodyFrom is decodeBody reading through r (DecodeBudget's reader
// that gives up with its context).
func decodeBodyFrom(r io.Reader, h header) (img *image.RGBA, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder failed: %v", p)
		}
	}()
	m, err := h.codec.decode(r)
	if err != nil {
		return nil, err
	}
	b := m.Bounds()
	// A decoder must agree with its own header; if not, the size check
	// above proved nothing.
	if b.Min.X < 0 || b.Min.Y < 0 || b.Max.X > h.width || b.Max.Y > h.height {
		return nil, fmt.Errorf("decoded %v but header declared %dx%d", b, h.width, h.height)
	}
	if b != image.Rect(0, 0, h.width, h.height) && h.codec.format == GIF {
		// A GIF's first frame may cover only part of its logical screen;
		// PIL shows it on the full screen, so do we (on black). (A HEIC
		// comes out smaller than its stored size when libheif applies its
		// clean aperture: that crop is the picture.)
		canvas := image.NewRGBA(image.Rect(0, 0, h.width, h.height))
		for i := 3; i < len(canvas.Pix); i += 4 {
			canvas.Pix[i] = 255
		}
		draw.Draw(canvas, b, toRGB(m), image.Point{}, draw.Src)
		return canvas, nil
	}
	return toRGB(m), nil
}

// toRGB converts any decoded image to opaque 8-bit RGB in an *image.RGBA with
// bounds starting at (0,0). The common photo layouts have direct loops; the
// rest go through the colour model, which is slower but always right.
func toRGB(m image.Image) *image.RGBA {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	switch src := m.(type) {
	case *image.YCbCr:
		// image/draw has a tuned YCbCr path with the same arithmetic as
		// color.YCbCrToRGB; it is most of a JPEG's conversion cost.
		draw.Draw(out, out.Rect, src, b.Min, draw.Src)
	case *image.Gray:
		for y := 0; y < h; y++ {
			s := src.Pix[(y)*src.Stride : (y)*src.Stride+w]
			row := out.Pix[y*out.Stride:]
			for x, v := range s {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = v, v, v, 255
			}
		}
	case *image.NRGBA:
		// Straight (non-premultiplied) colour: dropping alpha is taking RGB.
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+4*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			copy(row, s)
			for x := 3; x < len(row); x += 4 {
				row[x] = 255
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+4*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < len(row); x += 4 {
				r, g, bl, a := s[x], s[x+1], s[x+2], s[x+3]
				if a != 255 {
					r, g, bl = unpremul(r, a), unpremul(g, a), unpremul(bl, a)
				}
				row[x], row[x+1], row[x+2], row[x+3] = r, g, bl, 255
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, c := range src.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			lut[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+w]
			row := out.Pix[y*out.Stride:]
			for x, v := range s {
				c := lut[v]
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = c[0], c[1], c[2], 255
			}
		}
	default:
		if rgb16(m, out) {
			break
		}
		// CMYK, NYCbCrA and anything else. NRGBA64
		// keeps 16-bit precision until the final >>8 and un-premultiplies.
		for y := 0; y < h; y++ {
			row := out.Pix[y*out.Stride:]
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), 255
			}
		}
	}
	return out
}

// unpremul recovers a straight colour channel from a premultiplied one,
// rounding to nearest.
func unpremul(c, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	v := (uint32(c)*255 + uint32(a)/2) / uint32(a)
	return uint8(min(v, 255))
}
