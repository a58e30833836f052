//go:build !amd64

package nn

// Without the amd64 kernels every row runs in Go, whatever vec says.

func dw3s1RowVector(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) int { return 0 }

func dw3s2RowVector(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) int { return 0 }

func maxPool2x2RowVector(d, r0, r1 []float32, vec bool) int { return 0 }
