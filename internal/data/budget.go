package data

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"strconv"
	"time"
)

// Decoding untrusted bytes runs under a budget the bytes cannot escape. The
// pixel limit alone is not one: a small file can still cost far more time
// (a progressive JPEG repeating thousands of scans over a huge image, each
// scan a pass over every block) or memory (16-bit samples take twice the
// bytes of 8-bit ones) than its pixel count suggests. So:
//
//   - a JPEG's markers are walked before decoding, and a file with more
//     scans than its size allows is refused at once (checkScans);
//   - the decoder's own image is priced in bytes from the header's colour
//     model, and refused over MaxDecodedBytes;
//   - the decoder reads through a reader that checks the caller's context
//     every few dozen bytes, so a decode whose request is over stops within
//     about one scan's time and frees its goroutine.

// DefaultMaxScans is the most scans a JPEG may have. The standard
// progressions that encoders write (libjpeg's and libjpeg-turbo's, which
// mozjpeg and phone cameras follow) use 10 scans for colour and 6 for grey;
// hand-tuned scan scripts stay within a few dozen. Large images get fewer
// (scanPixelBudget), never fewer than minScans.
const DefaultMaxScans = 100

// Each scan of a progressive JPEG is a pass over every block, whatever the
// scan holds: about 50 ms per scan for 25 MP on the 2-core test machine. So
// the scan limit shrinks with the image, to keep scans × pixels within the
// budget libjpeg-turbo's own fuzz targets use (TJPARAM_SCANLIMIT 500 on
// images of at most 1 MP): at most about a second of decoding for any
// image. A 25 MP photo may have 20 scans, twice the standard progression.
const (
	scanPixelBudget = 500 * 1_000_000
	minScans        = 20
)

// scanLimit is the most scans a JPEG of px pixels may have.
func scanLimit(px int64) int {
	byCost := scanPixelBudget / max(px, 1)
	return int(min(DefaultMaxScans, max(byCost, minScans)))
}

// Budget bounds what decoding one file may cost. The zero value is the
// command line's: DefaultMaxPixels, no byte limit beyond
// the pixel limit, and no deadline.
type Budget struct {
	// MaxPixels bounds width×height as the header declares it (0:
	// DefaultMaxPixels).
	MaxPixels int
	// MaxDecodedBytes bounds the memory of the decoder's own image, priced
	// from the header's colour model (16-bit RGBA costs 8 bytes a pixel,
	// grey 1); 0 means no limit beyond MaxPixels. The 8-bit RGBA result
	// adds 4 bytes a pixel on top.
	MaxDecodedBytes int64
}

// ErrTooCostly is the reason class of a file refused because decoding it
// would cost more time or memory than the budget allows, although its pixel
// count is within the limit.
var ErrTooCostly = errors.New("over the decoding budget")

// DecodeBudget decodes one image held in memory, as Decode does, under b
// and ctx: once ctx is done the decoder is abandoned within a few dozen
// bytes of input and the error wraps ctx.Err() (errors.Is(err,
// context.DeadlineExceeded) holds for a deadline). Refusals are *ImageError
// naming name.
func DecodeBudget(ctx context.Context, data []byte, name string, b Budget) (*image.RGBA, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(name, err, err, "not decoded: %v", err)
	}
	h, err := checkBudget(data, name, b)
	if err != nil {
		return nil, err
	}
	if err := heifDeadline(ctx, h, name); err != nil {
		return nil, err
	}
	var r io.Reader = bytes.NewReader(data)
	if ctx.Done() != nil {
		r = &ctxReader{ctx: ctx, r: r}
	}
	img, err := decodeBodyFrom(r, h)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fail(name, cerr, cerr, "decoding abandoned: %v", cerr)
		}
		return nil, classify(name, h.codec.format, data, err)
	}
	return orient(img, h.orientation), nil
}

// heifDeadline refuses an AVIF or HEIC that the WebAssembly decoder, which
// cannot be stopped once started, would not finish before ctx's deadline.
func heifDeadline(ctx context.Context, h header, name string) error {
	if h.codec.format != AVIF && h.codec.format != HEIC {
		return nil
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return nil
	}
	if need, left := heifTime(h.width, h.height), time.Until(deadline); need > left {
		return fail(name, ErrTooCostly, nil, "a %dx%d %s takes about %s to decode, and %s is left for it",
			h.width, h.height, h.codec.format, need.Round(100*time.Millisecond), max(left, 0).Round(100*time.Millisecond))
	}
	return nil
}

// CheckBudget reads only the header and the markers of an image held in
// memory and says whether DecodeBudget would refuse it under b before
// decoding: the wrong format, over the pixel limit, too many scans, too
// many bytes. It costs microseconds, so a server runs it before the upload
// waits for a worker.
func CheckBudget(data []byte, name string, b Budget) error {
	_, err := checkBudget(data, name, b)
	return err
}

func checkBudget(data []byte, name string, b Budget) (header, error) {
	h, err := readHeader(data, name, b.MaxPixels)
	if err != nil {
		return header{}, err
	}
	if b.MaxDecodedBytes > 0 {
		need := decodedBytes(h.model, h.width, h.height)
		if h.bytesPerPixel > 0 {
			need = int64(h.width) * int64(h.height) * int64(h.bytesPerPixel)
		}
		if need > b.MaxDecodedBytes {
			return header{}, fail(name, ErrTooCostly, nil, "a %dx%d %s decodes to %s, over the %s decoding budget",
				h.width, h.height, modelName(h.model), mebibytes(need), mebibytes(b.MaxDecodedBytes))
		}
	}
	return h, nil
}

// ctxChunk is the most bytes ctxReader hands over per Read: the decoder
// then asks again (and the context is checked) at least every ctxChunk
// bytes. An empty progressive scan takes about 10-60 bytes, so a hostile
// file is stopped within a few scans; for an ordinary 5 MB photo the
// checks cost well under a millisecond.
const ctxChunk = 64

// ctxReader stops handing out bytes once its context is done, so a decoder
// reading from it cannot outlive the request that started it.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if len(p) > ctxChunk {
		p = p[:ctxChunk]
	}
	return c.r.Read(p)
}

// checkScans refuses a w×h JPEG with more scans than scanLimit allows
// before any decoding time is spent on it.
func checkScans(data []byte, name string, w, h int) error {
	limit := scanLimit(int64(w) * int64(h))
	if n := jpegScans(data, limit); n > limit {
		return fail(name, ErrTooCostly, nil, "a %dx%d JPEG with more than %d scans (each scan is a pass over the whole image; "+
			"ordinary photos have at most a few dozen)", w, h, limit)
	}
	return nil
}

// jpegScans counts the start-of-scan markers of a JPEG, stopping once it
// has seen more than limit. It follows the marker structure the way the
// decoder does (segment lengths, then entropy-coded data up to the next
// marker that is not a restart or a stuffed 0xFF), so bytes inside a scan
// or an APP segment that happen to look like a marker are not counted.
func jpegScans(data []byte, limit int) int {
	n := 0
	i := 2 // after SOI
	for i+1 < len(data) {
		if data[i] != 0xff {
			i++ // the decoder skips stray bytes between segments too
			continue
		}
		m := data[i+1]
		switch {
		case m == 0xff:
			i++ // fill byte
			continue
		case m == 0x00, m == 0x01, m >= 0xd0 && m <= 0xd8:
			i += 2 // markers without a length
			continue
		case m == 0xd9:
			return n // EOI
		}
		if i+3 >= len(data) {
			return n
		}
		size := int(data[i+2])<<8 | int(data[i+3])
		if size < 2 {
			return n
		}
		i += 2 + size
		if m != 0xda {
			continue
		}
		if n++; n > limit {
			return n
		}
		i = scanEnd(data, i)
	}
	return n
}

// scanEnd returns the offset of the marker that ends the entropy-coded data
// starting at i (or len(data)).
func scanEnd(data []byte, i int) int {
	for i < len(data) {
		j := bytes.IndexByte(data[i:], 0xff)
		if j < 0 {
			return len(data)
		}
		i += j
		if i+1 >= len(data) {
			return len(data)
		}
		switch next := data[i+1]; {
		case next == 0x00, next >= 0xd0 && next <= 0xd7:
			i += 2 // stuffed byte or restart marker: still in the scan
		case next == 0xff:
			i++ // fill before a marker
		default:
			return i
		}
	}
	return len(data)
}

// decodedBytes is the memory of the image a decoder allocates for a w×h
// picture in colour model m. JPEG's YCbCr is priced as 4:4:4 (3 bytes), the
// most a subsampling can cost.
func decodedBytes(m color.Model, w, h int) int64 {
	return int64(w) * int64(h) * int64(bytesPerPixel(m))
}

func bytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, CMYK and anything else 8-bit with four channels
}

func modelName(m color.Model) string {
	switch bytesPerPixel(m) {
	case 2:
		return "16-bit grey image"
	case 8:
		return "16-bit colour image"
	}
	return "image"
}

func mebibytes(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64) + " MB"
}

// overLimit says "5001x5000 = 25.005 MP, over the 25 MP limit": the two
// sizes are written with as many digits as it takes for a refused size
// never to read as equal to (or below) the limit.
func overLimit(w, h int, px, limit int64) string {
	a, b := pixelsText(px, limit)
	return fmt.Sprintf("%dx%d = %s, over the %s limit", w, h, a, b)
}

func pixelsText(px, limit int64) (string, string) {
	if limit < 1_000_000 {
		return fmt.Sprintf("%d pixels", px), fmt.Sprintf("%d pixels", limit)
	}
	lim := strconv.FormatFloat(float64(limit)/1e6, 'f', -1, 64) + " MP"
	// Rounded down, so the size shown is never more than the true one.
	scale := int64(1_000_000)
	for prec := 0; prec <= 6; prec++ {
		if shown := px / scale * scale; shown > limit {
			return strconv.FormatFloat(float64(shown)/1e6, 'f', prec, 64) + " MP", lim
		}
		scale /= 10
	}
	return fmt.Sprintf("%d pixels", px), lim
}

// rgb16 converts the 16-bit layouts of PNG and TIFF into out (same bounds,
// at the origin) and reports whether m was one of them. The generic path
// goes through color.Color twice per pixel, which allocates: about 16 bytes
// of garbage a pixel, 400 MB for a 25 MP photo, on top of the 8 bytes a
// pixel the decoder already holds. The results are the generic path's: the
// high byte of the straight (un-premultiplied) colour.
func rgb16(m image.Image, out *image.RGBA) bool {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	switch src := m.(type) {
	case *image.Gray16:
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+2*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				v := s[2*x]
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = v, v, v, 255
			}
		}
	case *image.NRGBA64:
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+8*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = s[8*x], s[8*x+2], s[8*x+4], 255
			}
		}
	case *image.RGBA64:
		for y := 0; y < h; y++ {
			s := src.Pix[y*src.Stride : y*src.Stride+8*w]
			row := out.Pix[y*out.Stride : y*out.Stride+4*w]
			for x := 0; x < w; x++ {
				p := s[8*x : 8*x+8]
				a := uint32(p[6])<<8 | uint32(p[7])
				for c := 0; c < 3; c++ {
					row[4*x+c] = unpremul16(uint32(p[2*c])<<8|uint32(p[2*c+1]), a)
				}
				row[4*x+3] = 255
			}
		}
	default:
		return false
	}
	return true
}

// unpremul16 is color.NRGBA64Model's un-premultiplication of one 16-bit
// channel, keeping the high byte.
func unpremul16(c, a uint32) uint8 {
	switch a {
	case 0xffff:
		return uint8(c >> 8)
	case 0:
		return 0
	}
	return uint8((c * 0xffff / a) >> 8)
}
