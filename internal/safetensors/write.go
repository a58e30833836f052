package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"starid/internal/atomicfile"
	"strconv"
)

// Write stores tensors, in the given order, and metadata (may be nil) in
// safetensors format. Everything is checked before the first byte is
// written, so an invalid argument never leaves a partial stream behind.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	// Values are encoded into one reused chunk: a VGG16 checkpoint is half a
	// gigabyte, which should not be copied into a byte slice whole.
	chunk := make([]byte, 0, 1<<20)
	flush := func() error {
		_, err := w.Write(chunk)
		chunk = chunk[:0]
		return err
	}
	for i := range tensors {
		t := &tensors[i]
		for _, v := range t.I64 {
			if len(chunk)+8 > cap(chunk) {
				if err := flush(); err != nil {
					return err
				}
			}
			chunk = binary.LittleEndian.AppendUint64(chunk, uint64(v))
		}
		for _, v := range t.F32 {
			if len(chunk)+8 > cap(chunk) {
				if err := flush(); err != nil {
					return err
				}
			}
			chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
		}
	}
	if len(chunk) > 0 {
		return flush()
	}
	return nil
}

// buildHeader validates the tensors and returns the JSON header, padded with
// spaces to a multiple of 8 bytes so that the data buffer is 8-byte aligned
// (readers that map the file, such as torch.frombuffer on an mmap, need it).
// Keys are written in the caller's order, which for a model is PyTorch's
// state_dict order; a Go map would sort them.
func buildHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		h.WriteString(`"__metadata__":{`)
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, metadata[k])
		}
		h.WriteByte('}')
	}
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "" {
			return nil, fmt.Errorf("safetensors: tensor %d has an empty name", i)
		}
		if t.Name == "__metadata__" {
			return nil, errors.New(`safetensors: "__metadata__" is reserved and cannot name a tensor`)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if t.F32 != nil && t.I64 != nil {
			return nil, fmt.Errorf("safetensors: tensor %s has both F32 and I64 values", t.Name)
		}
		shape := make([]int64, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = int64(d)
		}
		n, err := numel(shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %s: %v", t.Name, err)
		}
		if n != int64(t.len()) {
			return nil, fmt.Errorf("safetensors: tensor %s: shape %v needs %d values, got %d", t.Name, t.Shape, n, t.len())
		}
		size := n * int64(t.DType().Size())
		if h.Len() > 1 {
			h.WriteByte(',')
		}
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":"`)
		h.WriteString(string(t.DType()))
		h.WriteString(`","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		h.WriteString(`],"data_offsets":[`)
		h.WriteString(strconv.FormatInt(offset, 10))
		h.WriteByte(',')
		h.WriteString(strconv.FormatInt(offset+size, 10))
		h.WriteString("]}")
		offset += size
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	return h.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	// Marshalling a string cannot fail; invalid UTF-8 becomes U+FFFD.
	q, _ := json.Marshal(s)
	b.Write(q)
}

// WriteFile writes tensors and metadata to path atomically: the data goes to
// a temporary file in the same directory, is synced to disk, and is renamed
// over path; then the directory is synced so the rename itself survives a
// crash. A reader, or a crash at any moment, sees either the old file or the
// complete new one, never a torn checkpoint.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	if _, err := buildHeader(tensors, metadata); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}
