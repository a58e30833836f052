package library

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Whitening is a linear map of descriptors under which Euclidean distance
// weighs down the directions a person's own photos vary along (pose,
// light, age: within-class covariance normalization). Those directions
// are much the same for everyone, so a map fitted on some people carries
// over to others, which a map separating the fitted people (LDA) does not.
type Whitening struct {
	M [][]float32 // DescriptorSize rows of DescriptorSize
}

// FitWhitening fits the map on descriptors labelled by person: the inverse
// square root of the pooled within-person covariance, shrunk towards its
// mean variance by shrink in [0, 1] (1: the identity map, plain distances)
// and scaled so that distances keep their size on average. People with
// one photo add nothing.
func FitWhitening(ds [][]float32, labels []string, shrink float64) (*Whitening, error) {
	if len(ds) != len(labels) {
		return nil, fmt.Errorf("library: %d descriptors for %d labels", len(ds), len(labels))
	}
	if shrink < 0 || shrink > 1 {
		return nil, fmt.Errorf("library: shrinkage %g outside [0, 1]", shrink)
	}
	const n = DescriptorSize
	means := map[string][]float64{}
	count := map[string]int{}
	for i, d := range ds {
		if len(d) != n {
			return nil, fmt.Errorf("library: descriptor %d has %d values, want %d", i, len(d), n)
		}
		m := means[labels[i]]
		if m == nil {
			m = make([]float64, n)
			means[labels[i]] = m
		}
		for k, v := range d {
			m[k] += float64(v)
		}
		count[labels[i]]++
	}
	for l, m := range means {
		for k := range m {
			m[k] /= float64(count[l])
		}
	}
	cov := mat.NewSymDense(n, nil)
	dev := make([]float64, n)
	rows := 0
	for i, d := range ds {
		if count[labels[i]] < 2 {
			continue
		}
		for k, v := range d {
			dev[k] = float64(v) - means[labels[i]][k]
		}
		cov.SymRankOne(cov, 1, mat.NewVecDense(n, dev))
		rows++
	}
	if rows < 2 {
		return nil, fmt.Errorf("library: whitening needs two photos of a person, got none")
	}
	return whiteningOf(cov, shrink)
}

// whiteningOf is (1-shrink)·cov + shrink·v·I to the power -1/2, times the
// square root of v, the mean variance.
func whiteningOf(cov *mat.SymDense, shrink float64) (*Whitening, error) {
	n := cov.SymmetricDim()
	v := mat.Trace(cov) / float64(n)
	if !(v > 0) {
		return nil, fmt.Errorf("library: whitening: descriptors do not vary within a person")
	}
	s := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			x := (1 - shrink) * cov.At(i, j)
			if i == j {
				x += shrink * v
			}
			s.SetSym(i, j, x)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(s, true) {
		return nil, fmt.Errorf("library: whitening: eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	floor := 1e-6 * v // a shrink of 0 on too few photos leaves zero variances
	w := &Whitening{M: make([][]float32, n)}
	for i := range n {
		w.M[i] = make([]float32, n)
		for j := range n {
			var x float64
			for k, l := range vals {
				x += vecs.At(i, k) * vecs.At(j, k) * math.Sqrt(v/max(l, floor))
			}
			w.M[i][j] = float32(x)
		}
	}
	return w, nil
}

// Apply maps a descriptor.
func (w *Whitening) Apply(d []float32) []float32 {
	out := make([]float32, len(w.M))
	for i, row := range w.M {
		var x float32
		for j, v := range row {
			x += v * d[j]
		}
		out[i] = x
	}
	return out
}
