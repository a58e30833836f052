package nn

// convTapsAVX2 is implemented in conv_taps_amd64.s; see convTapsRows.
//
//go:noescape
func convTapsAVX2(d *float32, ldd, n int, src *float32, offs *int, taps int, w, b *float32)

// tapsSIMD says whether Conv2d's direct algorithm can run here.
func tapsSIMD() bool { return hasAVX2 && useSIMD }

// convTapsVector runs the AVX2 kernel on the longest multiple-of-8 prefix
// of the cols outputs and returns how many it wrote. The caller has
// checked the bounds of every slice.
func convTapsVector(d []float32, ldd, cols int, src []float32, offs []int, w, b []float32) int {
	n := cols &^ 7
	if n == 0 || !tapsSIMD() {
		return 0
	}
	convTapsAVX2(&d[0], ldd, n, &src[0], &offs[0], len(offs), &w[0], &b[0])
	return n
}

// HasAVX2 reports whether the CPU and OS run AVX2 code, for packages
// with kernels of their own (the face landmark net's sums), so that the
// check lives in one place.
func HasAVX2() bool { return hasAVX2 }
