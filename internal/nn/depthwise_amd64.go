package nn

// AVX2 row kernels for the evaluation hot spots of the face nets,
// implemented in depthwise_amd64.s: the 3x3 stride-1 and stride-2
// depthwise rows and the 2x2 stride-2 max-pool row. Each gives exactly the Go kernel's results;
// the Go kernels handle the last len%8 outputs and CPUs without AVX2.
//
// Whether they may run is the caller's vec argument: a layer asks
// cpu.HasAVX2FMA once per call and hands the answer down, because asking
// once per row (a lock, about 16 ns) would cost as much as a short row.

//go:noescape
func dw3s1RowAVX2(d, r0, r1, r2 *float32, n int, w *[9]float32, b float32)

//go:noescape
func dw3s2RowAVX2(d, r0, r1, r2 *float32, n int, w *[9]float32, b float32)

//go:noescape
func maxPool2x2RowAVX2(d, r0, r1 *float32, n int)

// dw3s1RowVector runs the AVX2 kernel, when vec allows, on the longest
// multiple-of-8 prefix of d and returns how many outputs it wrote.
func dw3s1RowVector(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) int {
	n := len(d) &^ 7
	if !vec || n == 0 {
		return 0
	}
	_, _, _ = r0[n+1], r1[n+1], r2[n+1] // the kernel reads n+2 values of each
	dw3s1RowAVX2(&d[0], &r0[0], &r1[0], &r2[0], n, w, b)
	return n
}

// dw3s2RowVector is dw3s1RowVector for the stride-2 row.
func dw3s2RowVector(d, r0, r1, r2 []float32, w *[9]float32, b float32, vec bool) int {
	n := len(d) &^ 7
	if !vec || n == 0 {
		return 0
	}
	_, _, _ = r0[2*n], r1[2*n], r2[2*n] // the kernel reads 2n+1 values of each
	dw3s2RowAVX2(&d[0], &r0[0], &r1[0], &r2[0], n, w, b)
	return n
}

// maxPool2x2RowVector runs the AVX2 kernel, when vec allows, on the
// longest multiple-of-8 prefix of d and returns how many outputs it wrote.
func maxPool2x2RowVector(d, r0, r1 []float32, vec bool) int {
	n := len(d) &^ 7
	if !vec || n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1] // the kernel reads 2n values of each
	maxPool2x2RowAVX2(&d[0], &r0[0], &r1[0], n)
	return n
}
