package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"starid/internal/library"
)

// whiten fits library.FitWhitening with shrinkage shrink on the training
// faces and compares mapped descriptors by Euclidean distance.
func whiten(shrink float64) method {
	return method{fmt.Sprintf("whiten %.2f", shrink), func(train []face) (model, error) {
		w, err := fitOn(train, shrink)
		if err != nil {
			return model{}, err
		}
		return model{prep: w, score: euclid}, nil
	}}
}

func fitOn(train []face, shrink float64) (func(face) face, error) {
	ds := make([][]float32, len(train))
	ls := make([]string, len(train))
	for i, f := range train {
		ds[i], ls[i] = f.d, f.label
	}
	w, err := library.FitWhitening(ds, ls, shrink)
	if err != nil {
		return nil, err
	}
	return func(f face) face { f.d = w.Apply(f.d); return f }, nil
}

// whitenNested chooses the shrinkage among grid by an inner
// identity-disjoint cross-validation on the training people alone
// (balanced accuracy on all inner test pairs), then fits on all of them:
// the outer folds' figure is then free of the choice.
func whitenNested(grid []float64) method {
	return method{"whiten, shrink chosen by inner CV", func(train []face) (model, error) {
		best, bestAcc := grid[0], -1.0
		for _, sh := range grid {
			res, err := crossValidate(train, whiten(sh), 3, 1, 0)
			if err != nil {
				return model{}, err
			}
			if res.balanced[0] > bestAcc {
				best, bestAcc = sh, res.balanced[0]
			}
		}
		chosen[best]++
		w, err := fitOn(train, best)
		return model{prep: w, score: euclid}, err
	}}
}

// chosen counts the shrinkages whitenNested chose.
var chosen = map[float64]int{}

// qualityAware wraps a method: its distance and the pair's worse face
// quality (largest yaw, lowest detector score, smallest box) enter a
// logistic regression fitted on training pairs, so a pair with a poor
// face gets its own threshold: same when
// w·[1, d, yaw, d·yaw, score, d·score, side, d·side] > 0.
func qualityAware(inner method) method {
	return method{inner.name + " + quality-aware threshold", func(train []face) (model, error) {
		m, err := inner.fit(train)
		if err != nil {
			return model{}, err
		}
		mapped := m.apply(train)
		var xs [][]float64
		var ys []bool
		r := rand.New(rand.NewPCG(3, 4))
		for i := range mapped {
			for j := i + 1; j < len(mapped); j++ {
				same := mapped[i].label == mapped[j].label
				if !same && r.IntN(4) != 0 {
					continue // a quarter of the different pairs is plenty
				}
				xs = append(xs, pairFeatures(m.score(&mapped[i], &mapped[j]), &mapped[i], &mapped[j]))
				ys = append(ys, same)
			}
		}
		w, err := logistic(xs, ys)
		if err != nil {
			return model{}, err
		}
		return model{prep: m.prep, score: func(a, b *face) float64 {
			x := pairFeatures(m.score(a, b), a, b)
			var z float64
			for k, v := range x {
				z += w[k] * v
			}
			return -z
		}}, nil
	}}
}

func pairFeatures(d float64, a, b *face) []float64 {
	yaw := max(a.q.yaw, b.q.yaw)
	score := min(a.q.score, b.q.score)
	side := min(a.q.side, b.q.side) - 4.5 // log(90): centred for the solver
	return []float64{1, d, yaw, d * yaw, score, d * score, side, d * side}
}

// logistic fits weights by Newton's method, the classes weighed equally
// and a small ridge keeping the system solvable.
func logistic(xs [][]float64, ys []bool) ([]float64, error) {
	n := len(xs[0])
	var nPos float64
	for _, y := range ys {
		if y {
			nPos++
		}
	}
	wPos, wNeg := 0.5/nPos, 0.5/(float64(len(ys))-nPos)
	w := make([]float64, n)
	for it := 0; it < 30; it++ {
		hs := make([]float64, n*n)
		gs := make([]float64, n)
		for i, x := range xs {
			var z float64
			for k, v := range x {
				z += w[k] * v
			}
			p := 1 / (1 + math.Exp(-z))
			cw, y := wNeg, 0.0
			if ys[i] {
				cw, y = wPos, 1
			}
			for k := range n {
				gs[k] += cw * (y - p) * x[k]
				for l := range n {
					hs[k*n+l] += cw * p * (1 - p) * x[k] * x[l]
				}
			}
		}
		for k := range n {
			hs[k*n+k] += 1e-6
			gs[k] -= 1e-6 * w[k]
		}
		h, g := mat.NewDense(n, n, hs), mat.NewVecDense(n, gs)
		var step mat.VecDense
		if err := step.SolveVec(h, g); err != nil {
			return nil, fmt.Errorf("logistic regression: %w", err)
		}
		for k := range n {
			w[k] += step.AtVec(k)
		}
		if mat.Norm(&step, 2) < 1e-8 {
			break
		}
	}
	return w, nil
}
