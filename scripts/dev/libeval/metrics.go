package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"starid/internal/library"
	"starid/internal/library/knn"
	"starid/internal/nn"
	"starid/internal/optim"
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

// qualityAware wraps a method with library.VerifyRule, fitted on the
// training pairs: the distance and the pair's worse face condition (yaw,
// detector score, box size) decide, so a pair with a poor face gets its
// own threshold.
func qualityAware(inner method) method {
	return method{inner.name + " + condition-aware threshold (library.VerifyRule)", func(train []face) (model, error) {
		m, err := inner.fit(train)
		if err != nil {
			return model{}, err
		}
		rule, err := library.FitVerifyRule(verifyPairs(m.apply(train), m.score))
		if err != nil {
			return model{}, err
		}
		return model{prep: m.prep, fixed: true, score: func(a, b *face) float64 {
			return m.score(a, b) - rule.Threshold(a.q, b.q)
		}}, nil
	}}
}

// verifyPairs are the faces' pairs for library.FitVerifyRule: all the
// same-person pairs and a quarter of the others (seeded), plenty for its
// eight weights.
func verifyPairs(fs []face, s scorer) []library.VerifyPair {
	var ps []library.VerifyPair
	r := rand.New(rand.NewPCG(3, 4))
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			same := fs[i].label == fs[j].label
			if !same && r.IntN(4) != 0 {
				continue
			}
			ps = append(ps, library.VerifyPair{Distance: s(&fs[i], &fs[j]), A: fs[i].q, B: fs[j].q, Same: same})
		}
	}
	return ps
}

// snorm wraps a method with symmetric score normalization: each face's
// distances to a cohort of faces of other people (the training faces of
// people other than its own; with top > 0 only its top closest) give it
// a mean and spread, and a pair's distance is the mean of its z-scores
// against both faces' cohorts. A face close to everyone (blurred, in
// profile) then needs to be closer still to count as the same person.
func snorm(inner method, top int, shiftOnly bool) method {
	name := fmt.Sprintf("%s + s-norm", inner.name)
	if top > 0 {
		name += fmt.Sprintf(" (top %d)", top)
	}
	if shiftOnly {
		name += " (shift only)"
	}
	return method{name, func(train []face) (model, error) {
		m, err := inner.fit(train)
		if err != nil {
			return model{}, err
		}
		cohort := m.apply(train)
		prep := func(f face) face {
			if m.prep != nil {
				f = m.prep(f)
			}
			var ds []float64
			for i := range cohort {
				if cohort[i].label != f.label {
					ds = append(ds, m.score(&f, &cohort[i]))
				}
			}
			if top > 0 && top < len(ds) {
				slices.Sort(ds)
				ds = ds[:top]
			}
			var mu, v float64
			for _, d := range ds {
				mu += d / float64(len(ds))
			}
			for _, d := range ds {
				v += (d - mu) * (d - mu) / float64(len(ds))
			}
			f.mu, f.sd = mu, math.Sqrt(v)
			if shiftOnly {
				f.sd = 1
			}
			return f
		}
		return model{prep: prep, score: func(a, b *face) float64 {
			d := m.score(a, b)
			return ((d-a.mu)/a.sd + (d-b.mu)/b.sd) / 2
		}}, nil
	}}
}

// viewsMin compares two faces by their closest pair of views (each
// augment's descriptor apart): a face turned left matches the mirror of
// one turned right better than its mean with its own mirror does.
var viewsMin = method{"min over view pairs", func([]face) (model, error) {
	return model{score: func(a, b *face) float64 {
		best := math.Inf(1)
		for _, x := range a.views {
			for _, y := range b.views {
				best = min(best, knn.Distance(x, y))
			}
		}
		return best
	}}, nil
}}

// diagonal learns a weight per descriptor dimension, w_k = exp(u_k) under
// the distance sqrt(sum w_k (a_k - b_k)^2), by a class-balanced logistic
// regression of same/different on the weighted squared distance over
// training pairs, with lambda·|u|^2 pulling back to plain distance.
func diagonal(lambda float64) method {
	return method{fmt.Sprintf("diagonal metric, lambda %g", lambda), func(train []face) (model, error) {
		var zs [][]float32
		var ys []bool
		r := rand.New(rand.NewPCG(5, 6))
		for i := range train {
			for j := i + 1; j < len(train); j++ {
				same := train[i].label == train[j].label
				if r.IntN(2) != 0 || (!same && r.IntN(10) != 0) {
					continue // a half of the same pairs, a twentieth of the others
				}
				z := make([]float32, len(train[i].d))
				for k := range z {
					x := train[i].d[k] - train[j].d[k]
					z[k] = x * x
				}
				zs = append(zs, z)
				ys = append(ys, same)
			}
		}
		u, err := fitDiagonal(zs, ys, lambda)
		if err != nil {
			return model{}, err
		}
		w := make([]float32, len(u))
		for k, v := range u {
			w[k] = float32(math.Sqrt(math.Exp(v)))
		}
		return model{prep: func(f face) face {
			d := make([]float32, len(f.d))
			for k, v := range f.d {
				d[k] = v * w[k]
			}
			f.d = d
			return f
		}, score: euclid}, nil
	}}
}

// fitDiagonal minimizes the balanced logistic loss of
// bias - scale·sum_k exp(u_k) z_k over (u, bias, log scale), full batch,
// by our Adam.
func fitDiagonal(zs [][]float32, ys []bool, lambda float64) ([]float64, error) {
	n := len(zs[0])
	var nPos float64
	for _, y := range ys {
		if y {
			nPos++
		}
	}
	wPos, wNeg := 0.5/nPos, 0.5/(float64(len(ys))-nPos)
	p := nn.NewParam("metric", n+2) // u_0..u_{n-1}, bias, log scale
	p.EnsureGrad()
	x, grad := p.Value.Data, p.Grad.Data
	x[n] = 5
	x[n+1] = float32(math.Log(5 / 0.36)) // bias/scale near 0.36, the squared distance of the plain threshold
	opt := optim.NewAdam([]*nn.Param{p}, optim.AdamConfig{LR: 0.03})
	e := make([]float64, n)
	for range 150 {
		for k := range n {
			e[k] = math.Exp(float64(x[k]))
		}
		scale := math.Exp(float64(x[n+1]))
		g := make([]float64, n+2)
		for i, z := range zs {
			var s float64
			for k, v := range z {
				s += e[k] * float64(v)
			}
			t := float64(x[n]) - scale*s
			cw, y := wNeg, 0.0
			if ys[i] {
				cw, y = wPos, 1
			}
			dt := cw * (1/(1+math.Exp(-t)) - y) // d loss / d t
			g[n] += dt
			g[n+1] -= dt * scale * s
			for k, v := range z {
				g[k] -= dt * scale * e[k] * float64(v)
			}
		}
		for k := range n {
			g[k] += 2 * lambda * float64(x[k])
		}
		for k, v := range g {
			grad[k] = float32(v)
		}
		if err := opt.Step(); err != nil {
			return nil, fmt.Errorf("diagonal metric: %w", err)
		}
	}
	u := make([]float64, n)
	for k := range n {
		u[k] = float64(x[k])
	}
	return u, nil
}
