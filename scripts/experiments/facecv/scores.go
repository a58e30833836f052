package main

import (
	"fmt"
	"math"
	"os"
	"slices"

	"gonum.org/v1/gonum/mat"

	"starid/internal/eval"
	"starid/internal/identify"
	"starid/internal/library/knn"
)

// A scorer names a descriptor (class) and says how far it is from being
// that person (score: lower is surer). The scores experiment compares
// scorers without any threshold, by the DET curve they give.
type scorer func(desc []float32) (class int, score float64)

// scoreMethods build a scorer from training descriptors x, labels y over
// k classes. Only class-level statistics are kept, as a saved model would.
var scoreMethods = []struct {
	name string
	make func(x [][]float32, y []int, k int) scorer
}{
	{"raw nearest centroid", func(x [][]float32, y []int, k int) scorer {
		return nearest(centroidsOf(x, y, k), knn.Distance)
	}},
	{"cosine nearest (L2-normalised)", func(x [][]float32, y []int, k int) scorer {
		xn := mapRows(x, unit)
		c := mapRows(centroidsOf(xn, y, k), unit)
		return func(d []float32) (int, float64) { return nearest(c, knn.Distance)(unit(d)) }
	}},
	{"standardised nearest", func(x [][]float32, y []int, k int) scorer {
		mean, sd := meanStd(x)
		st := func(v []float32) []float32 {
			o := make([]float32, len(v))
			for j := range v {
				o[j] = (v[j] - mean[j]) / sd[j]
			}
			return o
		}
		c := mapRows(centroidsOf(x, y, k), st)
		return func(d []float32) (int, float64) { return nearest(c, knn.Distance)(st(d)) }
	}},
	{"class-scaled nearest", shrunkScaled(0)},
	{"within-class whitened (shrink 0.5)", whitened(0.5)},
	{"within-class whitened (shrink 0.2)", whitened(0.2)},
	{"within-class whitened (shrink 0.05)", whitened(0.05)},
	{"within-class whitened (shrink 0.01)", whitened(0.01)},
	{"within-class whitened (shrink 0.001)", whitened(0.001)},
	{"k-NN: mean of the 1 nearest in the class", knnScore(1, 0)},
	{"k-NN: mean of the 3 nearest in the class", knnScore(3, 0)},
	{"k-NN: mean of the 5 nearest in the class", knnScore(5, 0)},
	{"centroid and 3-NN averaged", knnScore(3, 0.5)},
	{"centroid and 5-NN averaged", knnScore(5, 0.5)},
	{"class-scaled, shrunk to global (20)", shrunkScaled(20)},
	{"class-scaled, shrunk to global (60)", shrunkScaled(60)},
	{"raw nearest * sqrt(d1/d2)", func(x [][]float32, y []int, k int) scorer {
		c := centroidsOf(x, y, k)
		return func(d []float32) (int, float64) {
			d1, d2, b := twoNearest(c, d)
			return b, d1 * math.Sqrt(d1/d2)
		}
	}},
}

func unit(v []float32) []float32 {
	var s float64
	for _, e := range v {
		s += float64(e) * float64(e)
	}
	n := math.Sqrt(s)
	o := make([]float32, len(v))
	for i, e := range v {
		o[i] = float32(float64(e) / n)
	}
	return o
}

func mapRows(x [][]float32, f func([]float32) []float32) [][]float32 {
	o := make([][]float32, len(x))
	for i, v := range x {
		o[i] = f(v)
	}
	return o
}

func centroidsOf(x [][]float32, y []int, k int) [][]float32 {
	c := make([][]float32, k)
	n := make([]int, k)
	for i := range c {
		c[i] = make([]float32, len(x[0]))
	}
	for i, v := range x {
		n[y[i]]++
		for j, e := range v {
			c[y[i]][j] += e
		}
	}
	for i := range c {
		for j := range c[i] {
			c[i][j] /= float32(max(n[i], 1))
		}
	}
	return c
}

func meanStd(x [][]float32) (mean, sd []float32) {
	d := len(x[0])
	mean, sd = make([]float32, d), make([]float32, d)
	for j := range d {
		var s, ss float64
		for _, v := range x {
			s += float64(v[j])
		}
		mu := s / float64(len(x))
		for _, v := range x {
			ss += (float64(v[j]) - mu) * (float64(v[j]) - mu)
		}
		mean[j], sd[j] = float32(mu), float32(math.Sqrt(ss/float64(len(x))))
	}
	return mean, sd
}

// spread is each class's RMS distance of its members to its centroid.
func spread(x [][]float32, y []int, c [][]float32) []float64 {
	s := make([]float64, len(c))
	n := make([]int, len(c))
	for i, v := range x {
		d := knn.Distance(v, c[y[i]])
		s[y[i]] += d * d
		n[y[i]]++
	}
	for i := range s {
		s[i] = math.Sqrt(s[i] / float64(max(n[i], 1)))
	}
	return s
}

func nearest(c [][]float32, dist func(a, b []float32) float64) scorer {
	return func(d []float32) (int, float64) {
		best, bd := -1, math.Inf(1)
		for i := range c {
			if v := dist(d, c[i]); v < bd {
				best, bd = i, v
			}
		}
		return best, bd
	}
}

func twoNearest(c [][]float32, d []float32) (d1, d2 float64, best int) {
	d1, d2 = math.Inf(1), math.Inf(1)
	for i := range c {
		v := knn.Distance(d, c[i])
		switch {
		case v < d1:
			d1, d2, best = v, d1, i
		case v < d2:
			d2 = v
		}
	}
	return d1, d2, best
}

// whitened measures distances after whitening the pooled within-class
// covariance, shrunk toward its mean eigenvalue by shrink: directions in
// which one person's photos vary little count more.
func whitened(shrink float64) func(x [][]float32, y []int, k int) scorer {
	return func(x [][]float32, y []int, k int) scorer {
		c := centroidsOf(x, y, k)
		d := len(x[0])
		cov := mat.NewSymDense(d, nil)
		for i, v := range x {
			for a := range d {
				da := float64(v[a] - c[y[i]][a])
				for b := a; b < d; b++ {
					cov.SetSym(a, b, cov.At(a, b)+da*float64(v[b]-c[y[i]][b]))
				}
			}
		}
		cov.ScaleSym(1/float64(len(x)), cov)
		var eig mat.EigenSym
		if !eig.Factorize(cov, true) {
			panic("eigen decomposition failed")
		}
		vals := eig.Values(nil)
		var vecs mat.Dense
		eig.VectorsTo(&vecs)
		var mean float64
		for _, l := range vals {
			mean += l / float64(d)
		}
		w := mat.NewDense(d, d, nil) // rows: scaled eigenvectors
		for r := range d {
			s := 1 / math.Sqrt((1-shrink)*vals[r]+shrink*mean)
			for j := range d {
				w.Set(r, j, vecs.At(j, r)*s*math.Sqrt(mean))
			}
		}
		proj := func(v []float32) []float32 {
			o := make([]float32, d)
			for r := range d {
				var s float64
				for j := range d {
					s += w.At(r, j) * float64(v[j])
				}
				o[r] = float32(s)
			}
			return o
		}
		cw := mapRows(c, proj)
		return func(v []float32) (int, float64) { return nearest(cw, knn.Distance)(proj(v)) }
	}
}

// scores compares the scorers on the strangers triples: pooled DET points
// at 1% and 0.5% known refused, and the closed-set accuracy on the known.
func (e *env) scores() error {
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	fold := e.foldOf()
	tris := pickTriples(len(e.data.Classes), e.seed)
	fmt.Printf("scores: %d triples (seed %d); FAR = strangers within the limit, FRR = known photos beyond it\n", len(tris), e.seed)
	fmt.Println("method                                  CV closed  closed  EER     FAR@FRR0.5%  FAR@FRR1%  FAR@FRR2%")
	for _, sm := range scoreMethods {
		var genuine, impostor []float64
		var right, n int
		for _, tr := range tris {
			label, classes := leaveOut(e.data.Classes, e.sampleClasses(), tr)
			var x [][]float32
			var y []int
			for i, p := range photos {
				if d := e.mainFace(p.Faces); d != nil && fold[i] != 0 && label[i] >= 0 {
					x, y = append(x, d), append(y, label[i])
				}
			}
			sc := sm.make(x, y, len(classes))
			for i, p := range photos {
				d := e.mainFace(p.Faces)
				if label[i] >= 0 && fold[i] != 0 {
					continue
				}
				s := math.Inf(1)
				c := -2
				if d != nil {
					c, s = sc(d)
				}
				if label[i] < 0 {
					impostor = append(impostor, s)
					continue
				}
				n++
				if c == label[i] {
					right++
				}
				genuine = append(genuine, s)
			}
		}
		pts := eval.DET(genuine, impostor)
		fmt.Printf("%-38s  %8.2f%%  %5.2f%%  %5.2f%%  %10.2f%%  %8.2f%%  %8.2f%%\n", sm.name, e.cvClosed(photos, fold, sm.make),
			100*float64(right)/float64(n), 100*eer(pts), 100*farAt(pts, 0.005), 100*farAt(pts, 0.01), 100*farAt(pts, 0.02))
	}
	return nil
}

// leaveOut relabels the samples with the classes outside tr (strangers -1).
func leaveOut(all []string, sampleClass []int, tr [3]int) ([]int, []string) {
	label := make([]int, len(sampleClass))
	var classes []string
	idx := make([]int, len(all))
	for c, name := range all {
		idx[c] = -1
		if !slices.Contains(tr[:], c) {
			idx[c] = len(classes)
			classes = append(classes, name)
		}
	}
	for i, c := range sampleClass {
		label[i] = idx[c]
	}
	return label, classes
}

func farAt(pts []eval.DETPoint, frr float64) float64 {
	best := math.Inf(1)
	for _, p := range pts {
		if p.FRR <= frr && p.FAR < best {
			best = p.FAR
		}
	}
	return best
}

func eer(pts []eval.DETPoint) float64 {
	best, gap := 1.0, math.Inf(1)
	for _, p := range pts {
		if g := math.Abs(p.FAR - p.FRR); g < gap {
			best, gap = (p.FAR+p.FRR)/2, g
		}
	}
	return best
}

func (e *env) sampleClasses() []int {
	c := make([]int, len(e.data.Samples))
	for i, s := range e.data.Samples {
		c[i] = s.Class
	}
	return c
}

// cvClosed is the 5-fold closed-set accuracy of a scorer's names over all
// classes (a photo without a face is wrong).
func (e *env) cvClosed(photos []identify.Photo, fold []int, make func(x [][]float32, y []int, k int) scorer) float64 {
	right := 0
	for f := range folds {
		var x [][]float32
		var y []int
		for i, p := range photos {
			if d := e.mainFace(p.Faces); d != nil && fold[i] != f {
				x, y = append(x, d), append(y, e.data.Samples[i].Class)
			}
		}
		sc := make(x, y, len(e.data.Classes))
		for i, p := range photos {
			if d := e.mainFace(p.Faces); d != nil && fold[i] == f {
				c, sv := sc(d)
				if c == e.data.Samples[i].Class {
					right++
				} else if verbose {
					fmt.Fprintf(os.Stderr, "closed miss %s: faces %d, named %s (%.3f)\n", p.Path, len(p.Faces), e.data.Classes[c], sv)
				}
			}
		}
	}
	return 100 * float64(right) / float64(len(photos))
}

// knnScore scores a class by the mean distance to its k nearest training
// descriptors, mixed with the centroid distance by weight wc.
func knnScore(k int, wc float64) func(x [][]float32, y []int, nc int) scorer {
	return func(x [][]float32, y []int, nc int) scorer {
		c := centroidsOf(x, y, nc)
		byClass := make([][][]float32, nc)
		for i, v := range x {
			byClass[y[i]] = append(byClass[y[i]], v)
		}
		return func(d []float32) (int, float64) {
			best, bs := -1, math.Inf(1)
			for cl, rows := range byClass {
				ds := make([]float64, len(rows))
				for i, r := range rows {
					ds[i] = knn.Distance(d, r)
				}
				slices.Sort(ds)
				var m float64
				kk := min(k, len(ds))
				for _, v := range ds[:kk] {
					m += v / float64(kk)
				}
				v := (1-wc)*m + wc*knn.Distance(d, c[cl])
				if v < bs {
					best, bs = cl, v
				}
			}
			return best, bs
		}
	}
}

// shrunkScaled divides the centroid distance by the class's spread shrunk
// toward the mean spread with a weight of lambda descriptors.
func shrunkScaled(lambda float64) func(x [][]float32, y []int, k int) scorer {
	return func(x [][]float32, y []int, k int) scorer {
		c := centroidsOf(x, y, k)
		s := spread(x, y, c)
		n := make([]int, k)
		for _, l := range y {
			n[l]++
		}
		var g float64
		for i := range s {
			g += s[i] * float64(n[i]) / float64(len(y))
		}
		for i := range s {
			s[i] = (float64(n[i])*s[i] + lambda*g) / (float64(n[i]) + lambda) / g
		}
		return func(d []float32) (int, float64) {
			best, bs := -1, math.Inf(1)
			for i := range c {
				if v := knn.Distance(d, c[i]) / s[i]; v < bs {
					best, bs = i, v
				}
			}
			return best, bs
		}
	}
}
