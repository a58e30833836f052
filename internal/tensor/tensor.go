// Package tensor holds starid's dense float32 tensors (row-major, NCHW for
// images), the GEMM that every heavy layer reduces to, and the small parallel
// helpers that keep both cores busy without oversubscribing them.
package tensor

import (
	"fmt"
	"math"
	"strings"
)

// Tensor is a dense, row-major float32 array. Data holds exactly
// Numel(Shape) values; images are NCHW as in PyTorch.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, Numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the given shape. It panics
// when the length does not match, which is always a programming error.
func FromData(data []float32, shape ...int) *Tensor {
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("tensor.FromData: %d values for shape %v", len(data), shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// Numel is the number of elements of a shape.
func Numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// Numel is the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Dim is the number of dimensions.
func (t *Tensor) Dim() int { return len(t.Shape) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// Reshape returns a view with a new shape over the same data.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if Numel(shape) != len(t.Data) {
		return nil, fmt.Errorf("cannot reshape %v (%d values) to %v", t.Shape, len(t.Data), shape)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: t.Data}, nil
}

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool { return ShapeEq(t.Shape, u.Shape) }

// ShapeEq reports whether two shapes are identical.
func ShapeEq(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeString formats a shape like PyTorch's summary: [32, 64, 224, 224].
func ShapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, s := range shape {
		parts[i] = fmt.Sprint(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (t *Tensor) String() string { return "Tensor" + ShapeString(t.Shape) }

// Reuse returns buf reshaped to shape when its backing array is large enough,
// and a new tensor otherwise. Layers keep their outputs and gradient buffers
// between steps this way: at VGG16 sizes a fresh allocation per step would
// double the peak memory the garbage collector lets the heap reach. The
// contents are not cleared.
func Reuse(buf *Tensor, shape ...int) *Tensor {
	n := Numel(shape)
	if buf == nil || cap(buf.Data) < n {
		return New(shape...)
	}
	buf.Data = buf.Data[:n]
	buf.Shape = append(buf.Shape[:0], shape...)
	return buf
}

// MaxAbsDiff returns max |a_i - b_i|; shapes must match in size.
func MaxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > m || math.IsNaN(d) {
			m = d
		}
	}
	return m
}

// SameBits reports whether a and b hold bit-identical values: stricter than
// ==, it tells -0 from +0 and treats equal NaN patterns as equal. Tests of
// determinism and of PyTorch-exact arithmetic compare this way.
func SameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
