package knn

import "starid/internal/cpu"

// dotRowsAVX2 sets out[i] to q · x[i*dim:(i+1)*dim] for i < n (dots_amd64.s);
// dim must be a multiple of 32.
//
//go:noescape
func dotRowsAVX2(q, x *float32, dim, n int, out *float32)

// dotRows sets out[i] to the dot product of q with row i of x (rows of
// len(q) values). A search is one pass over the whole matrix, so its speed
// is how fast the rows stream through the multiply-adds: the AVX2/FMA
// kernel does 8 a cycle per FMA unit where the Go loop does one, which
// leaves memory bandwidth as the limit.
func dotRows(q, x []float32, out []float32) {
	dim := len(q)
	if cpu.HasAVX2FMA() && dim%32 == 0 && len(out) > 0 {
		_ = x[len(out)*dim-1] // the kernel reads this far
		dotRowsAVX2(&q[0], &x[0], dim, len(out), &out[0])
		return
	}
	dotRowsGo(q, x, out)
}
