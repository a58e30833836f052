package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// MaxHeaderSize caps the JSON header. A header is a few kilobytes even for
// large models; the cap (the reference implementation's) keeps a hostile
// length field from making the reader allocate without bound.
const MaxHeaderSize = 100_000_000

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data buffer.
	Begin, End int64
}

// Numel is the number of elements.
func (i *Info) Numel() int {
	n := 1
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// File is an opened safetensors file whose header has been validated; tensor
// data is read on demand, so opening a large checkpoint costs little memory.
type File struct {
	// Metadata is the header's "__metadata__" (nil when absent).
	Metadata map[string]string
	// Tensors lists every tensor in data-buffer order, which for files
	// written by Write is the order they were given in.
	Tensors []Info

	name      string // the path, or "safetensors" for a bare reader, in errors
	r         io.ReaderAt
	closer    io.Closer
	dataStart int64
	index     map[string]int
}

// Read validates the header of a safetensors stream of size bytes and
// returns the file; tensor data stays in r and is read by the accessors.
func Read(r io.ReaderAt, size int64) (*File, error) {
	return read("safetensors", r, size)
}

// Open opens and validates the safetensors file at path. Errors name the
// path. Close the File when done.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := read(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// Close releases the underlying file of a File from Open; it does nothing
// for one from Read.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Name is the path the file was opened from ("safetensors" for Read).
func (f *File) Name() string { return f.name }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.index[name]
	if !ok {
		return Info{}, false
	}
	return f.Tensors[i], true
}

// readAt fills p from off. io.ReaderAt may report io.EOF along with a full
// read of the last bytes, which is success here.
func readAt(r io.ReaderAt, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// headerEntry is one tensor of the JSON header. Pointers tell a missing key
// from a zero value.
type headerEntry struct {
	DType   *string
	Shape   *[]int64
	Offsets *[]int64
}

// decodeEntry takes the keys exactly as spelled: encoding/json would also
// match "DType" or "Shape", which the reference reader refuses. Other keys
// are ignored, as there.
func decodeEntry(dec *json.Decoder, e *headerEntry) error {
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return err
	}
	keys := [...]string{"dtype", "shape", "data_offsets"}
	dsts := [...]any{&e.DType, &e.Shape, &e.Offsets}
	for i, key := range keys {
		if raw, ok := fields[key]; ok {
			if err := json.Unmarshal(raw, dsts[i]); err != nil {
				return fmt.Errorf("%s: %v", key, err)
			}
		}
	}
	return nil
}

func read(name string, r io.ReaderAt, size int64) (*File, error) {
	fail := func(format string, args ...any) (*File, error) {
		return nil, fmt.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	if size < 8 {
		return fail("file has %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := readAt(r, lenBuf[:], 0); err != nil {
		return fail("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return fail("header declares %d bytes, more than the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return fail("header declares %d bytes but the file has %d after the length prefix", n, size-8)
	}
	hdr := make([]byte, n)
	if err := readAt(r, hdr, 8); err != nil {
		return fail("reading header: %v", err)
	}
	f := &File{name: name, r: r, dataStart: 8 + int64(n), index: map[string]int{}}
	bufLen := size - f.dataStart
	if err := f.parseHeader(hdr, bufLen); err != nil {
		return fail("%v", err)
	}
	return f, nil
}

// parseHeader decodes the JSON token by token rather than into a map so
// that a duplicated tensor name is an error instead of silently keeping the
// last one, then checks each tensor and the buffer coverage.
func (f *File) parseHeader(hdr []byte, bufLen int64) error {
	dec := json.NewDecoder(bytes.NewReader(hdr))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid header JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("invalid header JSON: want an object, found %v", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid header JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("invalid header JSON: want a key, found %v", tok)
		}
		if seen[key] {
			return fmt.Errorf("duplicate tensor name %q", key)
		}
		seen[key] = true
		if key == "__metadata__" {
			if err := dec.Decode(&f.Metadata); err != nil {
				return fmt.Errorf("invalid header JSON: __metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e headerEntry
		if err := decodeEntry(dec, &e); err != nil {
			return fmt.Errorf("invalid header JSON: tensor %s: %v", key, err)
		}
		info, err := checkEntry(key, &e, bufLen)
		if err != nil {
			return fmt.Errorf("tensor %s: %v", key, err)
		}
		f.Tensors = append(f.Tensors, info)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("invalid header JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("invalid header JSON after the object: %v", err)
		}
		return fmt.Errorf("invalid header JSON: unexpected %v after the object", tok)
	}

	// Files are written in offset order, but the format does not require
	// it; the stable sort keeps header order among zero-size tensors.
	slices.SortStableFunc(f.Tensors, func(a, b Info) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End))
	})
	var pos int64
	for i, t := range f.Tensors {
		if t.Begin < pos {
			p := f.Tensors[i-1]
			return fmt.Errorf("tensors %s (bytes %d to %d) and %s (bytes %d to %d) overlap", p.Name, p.Begin, p.End, t.Name, t.Begin, t.End)
		}
		if t.Begin > pos {
			return fmt.Errorf("bytes %d to %d of the data buffer belong to no tensor", pos, t.Begin)
		}
		pos = t.End
		f.index[t.Name] = i
	}
	if pos != bufLen {
		return fmt.Errorf("bytes %d to %d of the data buffer belong to no tensor", pos, bufLen)
	}
	return nil
}

// checkEntry validates one tensor against itself and the buffer length.
func checkEntry(name string, e *headerEntry, bufLen int64) (Info, error) {
	if e.DType == nil || e.Shape == nil || e.Offsets == nil {
		return Info{}, errors.New(`entry needs "dtype", "shape" and "data_offsets"`)
	}
	dt := DType(*e.DType)
	esize, ok := dtypeSizes[dt]
	if !ok {
		return Info{}, fmt.Errorf("unknown dtype %q", *e.DType)
	}
	shape := *e.Shape
	count, err := numel(shape)
	if err != nil {
		return Info{}, err
	}
	if count > math.MaxInt64/esize {
		return Info{}, fmt.Errorf("shape %v of %s has more bytes than fit in 64 bits", shape, dt)
	}
	off := *e.Offsets
	if len(off) != 2 {
		return Info{}, fmt.Errorf("data_offsets %v must be [begin, end]", off)
	}
	begin, end := off[0], off[1]
	if begin < 0 || end < begin {
		return Info{}, fmt.Errorf("data_offsets [%d %d] are not a byte range", begin, end)
	}
	if end > bufLen {
		return Info{}, fmt.Errorf("data_offsets [%d %d] reach past the %d-byte data buffer", begin, end, bufLen)
	}
	if need := count * esize; need != end-begin {
		return Info{}, fmt.Errorf("shape %v of %s needs %d bytes, offsets give %d", shape, dt, need, end-begin)
	}
	dims := make([]int, len(shape))
	for i, d := range shape {
		// Only a 32-bit int can be too small: with a zero dimension the
		// others are not bounded by the file size.
		if d > math.MaxInt {
			return Info{}, fmt.Errorf("dimension %d is too large for this platform", d)
		}
		dims[i] = int(d)
	}
	return Info{Name: name, DType: dt, Shape: dims, Begin: begin, End: end}, nil
}

// Float32 returns the named tensor's values as float32. Float dtypes are
// converted (F64 rounds, F16 and BF16 widen exactly) and integer dtypes are
// converted as by a Go conversion, so PyTorch's int64 buffers load into
// starid's float32 ones.
func (f *File) Float32(name string) ([]float32, error) {
	return readNew(f, name, f.ReadFloat32)
}

// readNew reads the named tensor with read into a new slice of its size.
func readNew[T float32 | int64](f *File, name string, read func(string, []T) error) ([]T, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %s", f.name, name)
	}
	dst := make([]T, info.Numel())
	if err := read(name, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadFloat32 is Float32 into dst, which must hold exactly the tensor's
// element count; loading a model decodes straight into its parameters.
func (f *File) ReadFloat32(name string, dst []float32) error {
	return f.decode(name, len(dst), func(dt DType, src []byte, at int) error {
		return decodeFloat32(dt, src, dst[at:])
	})
}

// Int64 returns the values of the named tensor, which must have an integer
// or BOOL dtype (float values are refused rather than truncated).
func (f *File) Int64(name string) ([]int64, error) {
	return readNew(f, name, f.ReadInt64)
}

// ReadInt64 is Int64 into dst, which must hold exactly the element count.
func (f *File) ReadInt64(name string, dst []int64) error {
	return f.decode(name, len(dst), func(dt DType, src []byte, at int) error {
		out := dst[at : at+len(src)/dt.Size()]
		if err := decodeInt64(dt, src, out); err != nil {
			return err
		}
		if dt == U64 {
			for i, v := range out {
				if v < 0 {
					return fmt.Errorf("element %d is %d, beyond int64", at+i, uint64(v))
				}
			}
		}
		return nil
	})
}

// decodeChunk bounds the bytes held at once while decoding; a multiple of
// every dtype size so no element straddles two chunks.
const decodeChunk = 1 << 20

// decode reads the tensor's bytes in chunks and hands each to convert along
// with the index of its first element.
func (f *File) decode(name string, n int, convert func(dt DType, src []byte, at int) error) error {
	info, ok := f.Info(name)
	if !ok {
		return fmt.Errorf("%s: no tensor %s", f.name, name)
	}
	if n != info.Numel() {
		return fmt.Errorf("%s: tensor %s has %d elements (shape %v), destination holds %d", f.name, name, info.Numel(), info.Shape, n)
	}
	esize := int64(info.DType.Size())
	buf := make([]byte, min(decodeChunk, info.End-info.Begin))
	for pos := info.Begin; pos < info.End; {
		chunk := buf[:min(int64(len(buf)), info.End-pos)]
		if err := readAt(f.r, chunk, f.dataStart+pos); err != nil {
			return fmt.Errorf("%s: tensor %s: %v", f.name, name, err)
		}
		if err := convert(info.DType, chunk, int((pos-info.Begin)/esize)); err != nil {
			return fmt.Errorf("%s: tensor %s: %v", f.name, name, err)
		}
		pos += int64(len(chunk))
	}
	return nil
}

func decodeFloat32(dt DType, src []byte, dst []float32) error {
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i := range len(src) / 4 {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case F64:
		for i := range len(src) / 8 {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case F16:
		for i := range len(src) / 2 {
			dst[i] = halfToFloat32(le.Uint16(src[2*i:]))
		}
	case BF16:
		// bfloat16 is the top half of a float32.
		for i := range len(src) / 2 {
			dst[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	default:
		if !dt.IsInteger() {
			return fmt.Errorf("cannot decode dtype %s", dt)
		}
		tmp := make([]int64, len(src)/dt.Size())
		if err := decodeInt64(dt, src, tmp); err != nil {
			return err
		}
		if dt == U64 {
			for i := range tmp {
				dst[i] = float32(uint64(tmp[i]))
			}
			return nil
		}
		for i, v := range tmp {
			dst[i] = float32(v)
		}
	}
	return nil
}

// decodeInt64 decodes integer dtypes. U64 values come back bit for bit:
// decodeFloat32 reinterprets them and ReadInt64 refuses those beyond int64.
func decodeInt64(dt DType, src []byte, dst []int64) error {
	le := binary.LittleEndian
	switch dt {
	case BOOL, U8:
		for i, b := range src {
			dst[i] = int64(b)
		}
	case I8:
		for i, b := range src {
			dst[i] = int64(int8(b))
		}
	case U16:
		for i := range len(src) / 2 {
			dst[i] = int64(le.Uint16(src[2*i:]))
		}
	case I16:
		for i := range len(src) / 2 {
			dst[i] = int64(int16(le.Uint16(src[2*i:])))
		}
	case U32:
		for i := range len(src) / 4 {
			dst[i] = int64(le.Uint32(src[4*i:]))
		}
	case I32:
		for i := range len(src) / 4 {
			dst[i] = int64(int32(le.Uint32(src[4*i:])))
		}
	case I64, U64:
		for i := range len(src) / 8 {
			dst[i] = int64(le.Uint64(src[8*i:]))
		}
	default:
		return fmt.Errorf("dtype %s does not hold integers", dt)
	}
	return nil
}

// halfToFloat32 widens an IEEE 754 binary16 value; every one is exactly
// representable as a float32.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // infinity or NaN, payload kept
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant * 2^-24
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	// Rebias the exponent from 15 to 127.
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
