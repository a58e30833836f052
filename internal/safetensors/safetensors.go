// Package safetensors reads and writes the safetensors checkpoint format, the
// one PyTorch users share weights in, so starid's checkpoints load in PyTorch
// and PyTorch's load in starid.
//
// The format: an 8-byte little-endian header length N, N bytes of JSON
// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} plus an optional "__metadata__" object of string pairs, then the data
// buffer. Offsets are relative to the buffer start, tensors are C-contiguous
// and little-endian, and together they must cover the buffer exactly.
//
// Why our own code rather than an existing Go library: the one candidate
// (github.com/nlpodyssey/safetensors, a port of the reference Rust crate)
// does check the header cap, contiguity and byte counts, but it silently
// keeps one of two tensors with the same name, its errors name neither the
// tensor nor the sizes involved ("info data offsets mismatch", "invalid
// header length"), it needs the whole file as one []byte (a VGG16 checkpoint
// would then sit in memory twice, as bytes and as float32s), it has no
// F16/BF16 to float32 decoding, and it is a small single-maintainer port. The
// format is small enough that owning a few hundred lines with exact errors and
// a fuzz test costs less than wrapping and patching it.
//
// Reading never panics on any input (FuzzRead checks it) and allocates no
// more than a small multiple of the file's size, however large the counts
// in a hostile header: each is checked against the file before anything is
// allocated from it. Decoding goes through a 1 MB buffer, so a tensor costs
// its decoded size and no more.
package safetensors

import (
	"fmt"
	"math"
)

// DType is a safetensors element type name as it appears in the header.
type DType string

// The element types of the safetensors format.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	U16    DType = "U16"
	I16    DType = "I16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	U32    DType = "U32"
	I32    DType = "I32"
	F32    DType = "F32"
	U64    DType = "U64"
	I64    DType = "I64"
	F64    DType = "F64"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

// dtypeSizes holds the byte size of every dtype a header may name. The F8
// types are listed so files holding them can still be opened and their
// other tensors read; decoding them is not supported.
var dtypeSizes = map[DType]int64{
	BOOL: 1, U8: 1, I8: 1, F8E4M3: 1, F8E5M2: 1,
	U16: 2, I16: 2, F16: 2, BF16: 2,
	U32: 4, I32: 4, F32: 4,
	U64: 8, I64: 8, F64: 8,
}

// Size is the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int { return int(dtypeSizes[d]) }

// Decodable reports whether File.Float32 can decode values of d (every
// known dtype but the F8 ones).
func (d DType) Decodable() bool {
	return dtypeSizes[d] != 0 && d != F8E4M3 && d != F8E5M2
}

// IsInteger reports whether values of d are integers (BOOL counts: 0 or 1),
// which File.Int64 can decode.
func (d DType) IsInteger() bool {
	switch d {
	case BOOL, U8, I8, U16, I16, U32, I32, U64, I64:
		return true
	}
	return false
}

// Tensor is one named tensor to write. Exactly one of F32 and I64 holds the
// values in row-major order; a non-nil I64 selects dtype I64 (PyTorch's
// int64 buffers such as num_batches_tracked), otherwise F32 is written. The
// slices are read, not copied, so a model's parameters can be written
// without a second copy of the weights.
type Tensor struct {
	Name  string
	Shape []int
	F32   []float32
	I64   []int64
}

// DType is the dtype Write stores the tensor as.
func (t *Tensor) DType() DType {
	if t.I64 != nil {
		return I64
	}
	return F32
}

func (t *Tensor) len() int {
	if t.I64 != nil {
		return len(t.I64)
	}
	return len(t.F32)
}

// numel multiplies dims with overflow and sign checks; the product of sizes
// in the header must fit an int64 byte count before anything is allocated.
func numel(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v has more elements than fit in 64 bits", shape)
		}
		n *= d
	}
	return n, nil
}
