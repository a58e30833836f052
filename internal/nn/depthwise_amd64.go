package nn

// AVX2 row kernels for the evaluation hot spots of the face nets,
// implemented in depthwise_amd64.s: the 3x3 stride-1 depthwise row and the
// 2x2 stride-2 max-pool row. Each gives exactly the Go kernel's results;
// the Go kernels handle the last len%8 outputs and CPUs without AVX2.

//go:noescape
func dw3s1RowAVX2(d, r0, r1, r2 *float32, n int, w *[9]float32, b float32)

//go:noescape
func maxPool2x2RowAVX2(d, r0, r1 *float32, n int)

func nnCPUID(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func nnXgetbv0() (eax uint32)

// hasAVX2 reports whether the CPU has AVX2 and the OS saves the YMM
// registers (the checks golang.org/x/sys/cpu makes, done here to keep the
// module's dependencies as they are).
var hasAVX2 = func() bool {
	maxID, _, _, _ := nnCPUID(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := nnCPUID(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&(osxsave|avx) != osxsave|avx {
		return false
	}
	if nnXgetbv0()&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := nnCPUID(7, 0)
	return ebx7&(1<<5) != 0
}()

// useSIMD lets tests compare the assembly with the Go kernels.
var useSIMD = true

// dw3s1RowVector runs the AVX2 kernel on the longest multiple-of-8 prefix
// of d and returns how many outputs it wrote.
func dw3s1RowVector(d, r0, r1, r2 []float32, w *[9]float32, b float32) int {
	n := len(d) &^ 7
	if !hasAVX2 || !useSIMD || n == 0 {
		return 0
	}
	_, _, _ = r0[n+1], r1[n+1], r2[n+1] // the kernel reads n+2 values of each
	dw3s1RowAVX2(&d[0], &r0[0], &r1[0], &r2[0], n, w, b)
	return n
}

// maxPool2x2RowVector runs the AVX2 kernel on the longest multiple-of-8
// prefix of d and returns how many outputs it wrote.
func maxPool2x2RowVector(d, r0, r1 []float32) int {
	n := len(d) &^ 7
	if !hasAVX2 || !useSIMD || n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1] // the kernel reads 2n values of each
	maxPool2x2RowAVX2(&d[0], &r0[0], &r1[0], n)
	return n
}

// hasSIMD says whether the row kernels run in assembly here.
func hasSIMD() bool { return hasAVX2 }
