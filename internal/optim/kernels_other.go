//go:build !amd64

package optim

func adamVector(w, g, m, v []float32, s *adamScalars) int { return 0 }

func sgdVector(w, g, b []float32, first, nesterov bool, wd, mom, keep, negLR float32, useMom bool) int {
	return 0
}
