package library

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// FaceCondition is what verify's threshold depends on besides the
// distance: how turned, how sure and how large a face is.
type FaceCondition struct {
	Yaw   float64 // |nose tip offset from the outer eye corners' midpoint| / their distance: 0 frontal, ~0.5 in profile
	Score float64 // detector confidence
	Side  float64 // log of the box's shorter side, pixels
}

// ConditionOf measures a face; without landmarks its yaw is 0.
func ConditionOf(f Face) FaceCondition {
	c := FaceCondition{Score: f.Score, Side: math.Log(max(1, min(f.Box[2], f.Box[3])))}
	if len(f.Landmarks) == LandmarkCount {
		// iBUG 300-W: 36 and 45 are the outer eye corners, 30 the nose tip.
		l, r, n := f.Landmarks[36], f.Landmarks[45], f.Landmarks[30]
		ex, ey := float64(r[0]-l[0]), float64(r[1]-l[1])
		if span2 := ex*ex + ey*ey; span2 > 0 {
			nx, ny := float64(n[0])-float64(l[0]+r[0])/2, float64(n[1])-float64(l[1]+r[1])/2
			c.Yaw = math.Abs((nx*ex + ny*ey) / span2)
		}
	}
	return c
}

// VerifyRule is verify's decision for a pair of faces at distance d: the
// same person when W·[1, d, yaw, d·yaw, score, d·score, side, d·side] > 0,
// with the pair's largest yaw, lowest score and smallest side: a logistic
// regression, so a pair with a turned, unsure or small face gets its own
// threshold. Thresholds are kept within [Lo, Hi], the range they took on
// the pairs the rule was fitted on, so that a face unlike those does not
// extrapolate the rule.
type VerifyRule struct {
	W      [8]float64
	Lo, Hi float64
}

// DefaultVerifyRule is fitted on celebrity17's 1,370 main faces, their
// descriptors averaged with the mirrored chip's (VerifyMirrored):
// `go run -tags nodynamic ./scripts/dev/libeval --augcache FILE
// --fit-verify /work/shared/data/celebrity17` prints it. For a frontal,
// sure (0.9), 90-pixel pair it gives 0.621; a face turned by 0.3 loosens
// it to 0.631, a pair of 245-pixel faces tightens it to 0.607. Measured by identity-disjoint cross-validation in
// docs/EXPERIMENTS.md ("Verify (issue 14, session 7)").
var DefaultVerifyRule = VerifyRule{
	W:  [8]float64{12.1446, -15.8493, -3.4502, 7.5753, 12.8297, -24.8103, 4.20584, -7.8105},
	Lo: 0.6009, Hi: 0.7443,
}

// pairWorst is the pair's worse condition on each count.
func pairWorst(a, b FaceCondition) FaceCondition {
	return FaceCondition{Yaw: max(a.Yaw, b.Yaw), Score: min(a.Score, b.Score), Side: min(a.Side, b.Side)}
}

// sideCentre is where Side is centred (log 90 pixels), which keeps the
// regression's system well conditioned.
const sideCentre = 4.5

// Threshold is the distance within which the faces are one person.
func (r VerifyRule) Threshold(a, b FaceCondition) float64 {
	c := pairWorst(a, b)
	side := c.Side - sideCentre
	w := r.W
	alpha := w[0] + w[2]*c.Yaw + w[4]*c.Score + w[6]*side
	beta := w[1] + w[3]*c.Yaw + w[5]*c.Score + w[7]*side
	if !(beta < 0) {
		// Distance no longer counts against "same": past the fitted
		// range; the nearest end of it is the answer.
		if alpha > 0 {
			return r.Hi
		}
		return r.Lo
	}
	return min(r.Hi, max(r.Lo, -alpha/beta))
}

// VerifyPair is a training pair for FitVerifyRule.
type VerifyPair struct {
	Distance float64
	A, B     FaceCondition
	Same     bool
}

// FitVerifyRule fits the rule by Newton's method on the class-balanced
// logistic loss (the test is as many same as different pairs), with a
// small ridge that keeps the system solvable, then moves its decision to
// the best balanced accuracy on the pairs.
func FitVerifyRule(ps []VerifyPair) (VerifyRule, error) {
	const n = 8
	var nSame float64
	for _, p := range ps {
		if p.Same {
			nSame++
		}
	}
	if nSame == 0 || nSame == float64(len(ps)) {
		return VerifyRule{}, errors.New("library: fitting the verify rule needs same and different pairs")
	}
	xs := make([][n]float64, len(ps))
	for i, p := range ps {
		c := pairWorst(p.A, p.B)
		d, side := p.Distance, c.Side-sideCentre
		xs[i] = [n]float64{1, d, c.Yaw, d * c.Yaw, c.Score, d * c.Score, side, d * side}
	}
	wSame, wDiff := 0.5/nSame, 0.5/(float64(len(ps))-nSame)
	var r VerifyRule
	w := r.W[:]
	for range 50 {
		h := make([]float64, n*n)
		g := make([]float64, n)
		for i, x := range xs {
			var z float64
			for k, v := range x {
				z += w[k] * v
			}
			p := 1 / (1 + math.Exp(-z))
			cw, y := wDiff, 0.0
			if ps[i].Same {
				cw, y = wSame, 1
			}
			for k := range n {
				g[k] += cw * (y - p) * x[k]
				for l := range n {
					h[k*n+l] += cw * p * (1 - p) * x[k] * x[l]
				}
			}
		}
		for k := range n {
			h[k*n+k] += 1e-6
			g[k] -= 1e-6 * w[k]
		}
		var step mat.VecDense
		if err := step.SolveVec(mat.NewDense(n, n, h), mat.NewVecDense(n, g)); err != nil {
			return VerifyRule{}, fmt.Errorf("library: fitting the verify rule: %w", err)
		}
		for k := range n {
			w[k] += step.AtVec(k)
		}
		if mat.Norm(&step, 2) < 1e-9 {
			break
		}
	}
	// The loss's balance point is not quite the best balanced accuracy:
	// move the decision to it, along the logit.
	zs := make([]float64, len(xs))
	same := make([]bool, len(xs))
	for i, x := range xs {
		for k, v := range x {
			zs[i] -= w[k] * v
		}
		same[i] = ps[i].Same
	}
	w[0] += BalancedThreshold(zs, same)
	r.Lo, r.Hi = math.Inf(-1), math.Inf(1)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range ps {
		t := r.Threshold(p.A, p.B)
		lo, hi = min(lo, t), max(hi, t)
	}
	r.Lo, r.Hi = lo, hi
	return r, nil
}

// BalancedThreshold is the score threshold (same at or below it) with the
// best balanced accuracy, the mean of the same and the different pairs'
// rates of right answers, halfway between two scores.
func BalancedThreshold(scores []float64, same []bool) float64 {
	idx := make([]int, len(scores))
	nSame := 0
	for i := range idx {
		idx[i] = i
		if same[i] {
			nSame++
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	nDiff := len(scores) - nSame
	best, bestAcc := 0.0, -1.0
	accS, accD := 0, 0 // same and different pairs accepted at scores[idx[i]]
	for i, k := range idx {
		if same[k] {
			accS++
		} else {
			accD++
		}
		if i+1 < len(idx) && scores[idx[i+1]] == scores[k] {
			continue
		}
		bal := (float64(accS)/float64(max(1, nSame)) + 1 - float64(accD)/float64(max(1, nDiff))) / 2
		if bal > bestAcc {
			bestAcc, best = bal, scores[k]
			if i+1 < len(idx) {
				best = (scores[k] + scores[idx[i+1]]) / 2
			}
		}
	}
	return best
}
