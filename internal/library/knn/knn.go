// Package knn is exact nearest-neighbour search over face descriptors held
// in one row-major float32 matrix: squared Euclidean distances come from
// |q|² + |x|² - 2·q·x, the dot products from starid's GEMM in blocks that
// stay in cache, split across the cores.
package knn

import (
	"container/heap"
	"fmt"
	"math"
	"slices"

	"starid/internal/tensor"
)

// Matrix holds n descriptors of Dim values, row i at Data[i*Dim:].
type Matrix struct {
	Dim   int
	Data  []float32
	norms []float32 // squared norms, one per row
}

// New returns an empty matrix for descriptors of dim values.
func New(dim int) *Matrix { return &Matrix{Dim: dim} }

// Len is the number of rows.
func (m *Matrix) Len() int { return len(m.norms) }

// Row is row i (shared, not a copy).
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Dim : (i+1)*m.Dim] }

// Add appends a row.
func (m *Matrix) Add(v []float32) error {
	if len(v) != m.Dim {
		return fmt.Errorf("knn: descriptor of %d values, want %d", len(v), m.Dim)
	}
	m.Data = append(m.Data, v...)
	m.norms = append(m.norms, dot(v, v))
	return nil
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// dotRowsGo is dotRows without vector instructions: eight independent
// sums per row, so the adds do not wait on each other (the compiler does
// not vectorize); the tail loop covers lengths not a multiple of 8.
func dotRowsGo(q, x []float32, out []float32) {
	dim := len(q)
	for r := range out {
		a, b := q, x[r*dim:(r+1)*dim]
		var s0, s1, s2, s3, s4, s5, s6, s7 float32
		i := 0
		for ; i+8 <= len(a); i += 8 {
			s0 += a[i] * b[i]
			s1 += a[i+1] * b[i+1]
			s2 += a[i+2] * b[i+2]
			s3 += a[i+3] * b[i+3]
			s4 += a[i+4] * b[i+4]
			s5 += a[i+5] * b[i+5]
			s6 += a[i+6] * b[i+6]
			s7 += a[i+7] * b[i+7]
		}
		for ; i < len(a); i++ {
			s0 += a[i] * b[i]
		}
		out[r] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
	}
}

// Distance is the Euclidean distance between two descriptors.
func Distance(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// Hit is a row and its Euclidean distance to the query.
type Hit struct {
	Row      int
	Distance float32
}

// block is how many rows one GEMM call covers: 1024 rows of 128 floats
// (512 KB) stream through L2 while the query blocks stay in L1.
const block = 1024

// Search returns the k rows nearest to q, nearest first (ties by row).
// One query is a matrix-vector product, bound by reading the matrix: the
// dot products of a block of rows come from one call of dotRows (an
// AVX2/FMA kernel where the CPU has it), then |x|² + |q|² - 2·q·x against
// the k-th best so far. A GEMM call per block measured twice as slow as
// even the plain Go loop (it packs its operands for nothing), see
// BENCHMARKS.md.
func (m *Matrix) Search(q []float32, k int) []Hit {
	if k <= 0 || m.Len() == 0 || len(q) != m.Dim {
		return nil
	}
	qn := dot(q, q)
	n := m.Len()
	parts := make([][]Hit, (n+block-1)/block)
	dots := make([][]float32, tensor.Workers())
	tensor.ForEach(len(parts), func(w, b int) {
		lo, hi := b*block, min((b+1)*block, n)
		if dots[w] == nil {
			dots[w] = make([]float32, block)
		}
		d := dots[w][:hi-lo]
		dotRows(q, m.Data[lo*m.Dim:hi*m.Dim], d)
		h := &topK{k: k}
		for i, v := range d {
			if dist := m.norms[lo+i] + qn - 2*v; len(h.hits) < k || dist <= h.hits[0].Distance {
				h.offer(Hit{Row: lo + i, Distance: dist})
			}
		}
		parts[b] = h.hits
	})
	h := &topK{k: k}
	for _, p := range parts {
		for _, x := range p {
			h.offer(x)
		}
	}
	out := h.hits
	slices.SortFunc(out, byDistance)
	// The expansion loses the last digits of small distances (a photo
	// searched for itself is 0.0007 away): the few answers get theirs
	// computed directly.
	for i := range out {
		out[i].Distance = float32(Distance(q, m.Row(out[i].Row)))
	}
	return out
}

func byDistance(a, b Hit) int {
	switch {
	case a.Distance < b.Distance:
		return -1
	case a.Distance > b.Distance:
		return 1
	}
	return a.Row - b.Row
}

// topK keeps the k smallest hits in a max-heap on squared distance.
type topK struct {
	k    int
	hits []Hit
}

func (h *topK) Len() int           { return len(h.hits) }
func (h *topK) Less(i, j int) bool { return byDistance(h.hits[i], h.hits[j]) > 0 }
func (h *topK) Swap(i, j int)      { h.hits[i], h.hits[j] = h.hits[j], h.hits[i] }
func (h *topK) Push(x any)         { h.hits = append(h.hits, x.(Hit)) }
func (h *topK) Pop() any {
	x := h.hits[len(h.hits)-1]
	h.hits = h.hits[:len(h.hits)-1]
	return x
}

func (h *topK) offer(x Hit) {
	if len(h.hits) < h.k {
		heap.Push(h, x)
	} else if byDistance(x, h.hits[0]) < 0 {
		h.hits[0] = x
		heap.Fix(h, 0)
	}
}

// qblock is how many query rows one GEMM takes.
const qblock = 256

// Subset is a new matrix of the given rows, in that order.
func (m *Matrix) Subset(rows []int) *Matrix {
	out := &Matrix{Dim: m.Dim, Data: make([]float32, 0, len(rows)*m.Dim), norms: make([]float32, 0, len(rows))}
	for _, r := range rows {
		out.Data = append(out.Data, m.Row(r)...)
		out.norms = append(out.norms, m.norms[r])
	}
	return out
}

// Within returns, for each row of q, the rows of m within radius
// (Euclidean), in row order. Cost: q.Len()·m.Len() dot products, as
// blocked GEMMs.
func (m *Matrix) Within(q *Matrix, radius float32) [][]Hit {
	out := make([][]Hit, q.Len())
	tensor.ForEach((q.Len()+qblock-1)/qblock, func(_, b int) {
		lo, hi := b*qblock, min((b+1)*qblock, q.Len())
		m.scan(q, lo, hi, 0, radius, func(i, j int, d float32) {
			out[i] = append(out[i], Hit{Row: j, Distance: d})
		})
	})
	return out
}

// SelfPairs returns, for each row, the other rows within radius, in row
// order: the edges of the graph that groups faces. Large matrices are
// first split into cells (see selfPairsCells), which skips most pairs
// when the rows form clusters, as faces of people do; otherwise each
// pair's distance is computed once (blocks on and above the diagonal),
// half the work of m.Within(m).
func (m *Matrix) SelfPairs(radius float32) [][]Hit {
	if m.Len() >= cellsFrom {
		if out, ok := m.selfPairsCells(radius); ok {
			return out
		}
	}
	return m.selfPairsAll(radius)
}

func (m *Matrix) selfPairsAll(radius float32) [][]Hit {
	nb := (m.Len() + qblock - 1) / qblock
	found := make([][]edge, nb)
	tensor.ForEach(nb, func(_, b int) {
		lo, hi := b*qblock, min((b+1)*qblock, m.Len())
		m.scan(m, lo, hi, lo, radius, func(i, j int, d float32) {
			if j > i {
				found[b] = append(found[b], edge{int32(i), int32(j), d})
			}
		})
	})
	return hitsOf(m.Len(), found)
}

// scan compares q's rows [lo, hi) with m's rows from `from` on, calling
// hit(qRow, mRow, distance) for pairs within radius, in mRow order.
func (m *Matrix) scan(q *Matrix, lo, hi, from int, radius float32, hit func(i, j int, d float32)) {
	r2 := radius * radius
	n := m.Len()
	c := make([]float32, (hi-lo)*block)
	for x0 := from; x0 < n; x0 += block {
		w := min(block, n-x0)
		tensor.Gemm(false, true, hi-lo, w, m.Dim, -2, q.Data[lo*q.Dim:], q.Dim, m.Data[x0*m.Dim:], m.Dim, 0, c, w)
		for i := range hi - lo {
			base := q.norms[lo+i]
			for j, v := range c[i*w : (i+1)*w] {
				if d := v + base + m.norms[x0+j]; d <= r2 {
					hit(lo+i, x0+j, float32(math.Sqrt(max(float64(d), 0))))
				}
			}
		}
	}
}

// edge is a pair of rows within the radius, and their distance.
type edge struct {
	i, j int32
	d    float32
}

// hitsOf turns the pairs found (each once, i < j) into every row's hits,
// both ways, by row.
func hitsOf(n int, found [][]edge) [][]Hit {
	out := make([][]Hit, n)
	for _, es := range found {
		for _, e := range es {
			out[e.i] = append(out[e.i], Hit{Row: int(e.j), Distance: e.d})
			out[e.j] = append(out[e.j], Hit{Row: int(e.i), Distance: e.d})
		}
	}
	for _, hs := range out {
		slices.SortFunc(hs, func(a, b Hit) int { return a.Row - b.Row })
	}
	return out
}
