package main

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"starid/internal/faces"
	"starid/internal/library"
	"starid/internal/library/knn"
)

// pair is two photos' main-face distance and whether they are one person.
type pair struct {
	d    float64
	same bool
	i, j int // the photos, where the caller keeps them
}

// verifyReport calibrates the verify threshold on the even-numbered photos
// of each person (the one that gets most pairs right, same and different
// weighed equally), then measures it on nPairs same and nPairs different
// pairs drawn from the odd-numbered ones; the ROC is over all pairs.
func verifyReport(paths, labels []string, main map[string]*faces.Face, nPairs int) error {
	var cal, test []int
	seen := map[string]int{}
	for i, p := range paths {
		if main[p] == nil {
			continue
		}
		if seen[labels[i]]%2 == 0 {
			cal = append(cal, i)
		} else {
			test = append(test, i)
		}
		seen[labels[i]]++
	}
	d := func(i, j int) float64 { return knn.Distance(main[paths[i]].Descriptor, main[paths[j]].Descriptor) }
	var calPairs []pair
	for a := range cal {
		for b := a + 1; b < len(cal); b++ {
			calPairs = append(calPairs, pair{d: d(cal[a], cal[b]), same: labels[cal[a]] == labels[cal[b]]})
		}
	}
	th := bestThreshold(calPairs)
	r := rand.New(rand.NewPCG(1, 2))
	var same, diff []pair
	for len(same) < nPairs || len(diff) < nPairs {
		i, j := test[r.IntN(len(test))], test[r.IntN(len(test))]
		if i == j {
			continue
		}
		p := pair{d(i, j), labels[i] == labels[j], i, j}
		if p.same && len(same) < nPairs {
			same = append(same, p)
		} else if !p.same && len(diff) < nPairs {
			diff = append(diff, p)
		}
	}
	fmt.Printf("\nverify: threshold %.3f (calibrated on %d photos' %d pairs)\n", th, len(cal), len(calPairs))
	fmt.Printf("  on %d same + %d different pairs of the other %d photos: %.2f%% right (same %.2f%%, different %.2f%%)\n",
		len(same), len(diff), len(test), 100*accuracy(append(same, diff...), th), 100*accuracy(same, th), 100*accuracy(diff, th))
	if err := ruleReport(paths, labels, main, cal, append(same, diff...)); err != nil {
		return err
	}
	for _, t := range []float64{0.5, 0.55, 0.6} {
		fmt.Printf("  at %.2f: %.2f%% right\n", t, 100*accuracy(append(same, diff...), t))
	}
	var all []pair
	for i := range paths {
		for j := i + 1; j < len(paths); j++ {
			if main[paths[i]] != nil && main[paths[j]] != nil {
				all = append(all, pair{d: d(i, j), same: labels[i] == labels[j]})
			}
		}
	}
	worstPhotos(paths, labels, main, th, 15)
	for _, far := range []float64{0.01, 0.001} {
		tar, t := tarAt(all, far)
		fmt.Printf("  ROC over all %d pairs: true accept rate %.2f%% at %.1f%% false accepts (threshold %.3f)\n", len(all), 100*tar, 100*far, t)
	}
	return nil
}

// ruleReport fits library.VerifyRule on the calibration photos' pairs
// and measures it on the test pairs.
func ruleReport(paths, labels []string, main map[string]*faces.Face, cal []int, test []pair) error {
	cond := func(i int) library.FaceCondition {
		return library.ConditionOf(library.FromPipeline(*main[paths[i]], 0, 0))
	}
	var ps []library.VerifyPair
	for a := range cal {
		for b := a + 1; b < len(cal); b++ {
			i, j := cal[a], cal[b]
			ps = append(ps, library.VerifyPair{Distance: knn.Distance(main[paths[i]].Descriptor, main[paths[j]].Descriptor),
				A: cond(i), B: cond(j), Same: labels[i] == labels[j]})
		}
	}
	rule, err := library.FitVerifyRule(ps)
	if err != nil {
		return err
	}
	right := 0
	for _, p := range test {
		if (p.d <= rule.Threshold(cond(p.i), cond(p.j))) == p.same {
			right++
		}
	}
	fmt.Printf("  with library.VerifyRule fitted on the same calibration pairs (thresholds %.3f to %.3f): %.2f%% right\n", rule.Lo, rule.Hi, 100*float64(right)/float64(len(test)))
	return nil
}

func accuracy(ps []pair, th float64) float64 {
	right := 0
	for _, p := range ps {
		if (p.d <= th) == p.same {
			right++
		}
	}
	return float64(right) / float64(len(ps))
}

// bestThreshold maximizes balanced accuracy (mean of the same and
// different pairs' rates): there are far more different pairs.
func bestThreshold(ps []pair) float64 {
	ds := make([]float64, len(ps))
	same := make([]bool, len(ps))
	for i, p := range ps {
		ds[i], same[i] = p.d, p.same
	}
	return library.BalancedThreshold(ds, same)
}

// tarAt is the share of same pairs accepted at the largest threshold that
// accepts at most far of the different pairs.
func tarAt(ps []pair, far float64) (float64, float64) {
	var sameD, diffD []float64
	for _, p := range ps {
		if p.same {
			sameD = append(sameD, p.d)
		} else {
			diffD = append(diffD, p.d)
		}
	}
	slices.Sort(diffD)
	k := int(far * float64(len(diffD)))
	th := diffD[k] // accepting d < diffD[k] lets k different pairs in
	acc := 0
	for _, d := range sameD {
		if d < th {
			acc++
		}
	}
	return float64(acc) / float64(len(sameD)), th
}

// worstPhotos lists the photos in most wrong pairs at threshold th over
// all pairs: a few photos behind most errors point at the photo (wrong
// main face, a mislabel) rather than at the threshold.
func worstPhotos(paths, labels []string, main map[string]*faces.Face, th float64, n int) {
	errs := make([]int, len(paths))
	total := 0
	for i := range paths {
		for j := i + 1; j < len(paths); j++ {
			if main[paths[i]] == nil || main[paths[j]] == nil {
				continue
			}
			d := knn.Distance(main[paths[i]].Descriptor, main[paths[j]].Descriptor)
			if (d <= th) != (labels[i] == labels[j]) {
				errs[i]++
				errs[j]++
				total++
			}
		}
	}
	idx := make([]int, len(paths))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return errs[b] - errs[a] })
	fmt.Printf("\n%d wrong pairs at %.3f; the photos in most of them:\n", total, th)
	for _, i := range idx[:n] {
		f := main[paths[i]]
		fmt.Printf("  %4d  %s  (box %.0fx%.0f, score %.2f)\n", errs[i], paths[i], f.Box.W, f.Box.H, f.Score)
	}
}
