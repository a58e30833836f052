package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"starid/internal/library"
	"starid/internal/library/knn"
)

// face is one photo's chosen face for the verify study: its person, its
// descriptor (the mean of the chosen augments') and what a quality-aware
// decision may use.
type face struct {
	label string
	d     []float32
	q     library.FaceCondition
	// mu and sd are the mean and standard deviation of the face's
	// distances to a cohort of other people (score normalization).
	mu, sd float64
	views  [][]float32 // the augments' descriptors, one by one
}

// facesOf picks each photo's face (its main face, or its surest when
// surest) with the mean descriptor of the named augments ("plain" is the
// pipeline's own); photos without a face are left out.
func facesOf(c *augCache, surest bool, augs []string) ([]face, error) {
	idx := map[string]int{"plain": -1}
	for k, a := range c.Augs {
		idx[a.Name] = k
	}
	var out []face
	for _, p := range c.Photos {
		i := p.Main
		if surest {
			i = p.Surest
		}
		if i < 0 {
			continue
		}
		f := p.Faces[i]
		d := make([]float32, len(f.Descriptor))
		var views [][]float32
		for _, name := range augs {
			k, ok := idx[name]
			if !ok {
				return nil, fmt.Errorf("no augment %q in the cache", name)
			}
			src := f.Descriptor
			if k >= 0 {
				src = f.Aug[k]
			}
			for j, v := range src {
				d[j] += v / float32(len(augs))
			}
			views = append(views, src)
		}
		out = append(out, face{label: p.Label, d: d, q: conditionOf(f), views: views})
	}
	return out, nil
}

// conditionOf is library.ConditionOf of a cached face.
func conditionOf(f cachedFace) library.FaceCondition {
	lf := library.Face{Box: f.Box, Score: f.Score}
	for _, p := range f.Landmarks {
		lf.Landmarks = append(lf.Landmarks, [2]float32{float32(p.X), float32(p.Y)})
	}
	return library.ConditionOf(lf)
}

// scorer rates a pair of faces, lower meaning more alike; fitted on the
// training people only.
type scorer func(a, b *face) float64

// model is a fitted decision: prep maps each face once (nil: unchanged),
// then score rates pairs of mapped faces.
type model struct {
	prep  func(face) face
	score scorer
	// fixed: the model decides "same" at score <= 0 itself; no threshold
	// is calibrated for it.
	fixed bool
}

// apply is fs through m.prep.
func (m model) apply(fs []face) []face {
	if m.prep == nil {
		return fs
	}
	out := make([]face, len(fs))
	for i, f := range fs {
		out[i] = m.prep(f)
	}
	return out
}

// method fits a model on training faces.
type method struct {
	name string
	fit  func(train []face) (model, error)
}

// euclid is the plain descriptor distance.
func euclid(a, b *face) float64 { return knn.Distance(a.d, b.d) }

// allPairs scores every pair of fs.
func allPairs(fs []face, s scorer) []pair {
	ps := make([]pair, 0, len(fs)*(len(fs)-1)/2)
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			ps = append(ps, pair{d: s(&fs[i], &fs[j]), same: fs[i].label == fs[j].label})
		}
	}
	return ps
}

// samplePairs draws nSame same-person and nDiff different pairs of fs at
// random, as verifyReport does.
func samplePairs(fs []face, s scorer, nSame, nDiff int, r *rand.Rand) []pair {
	var same, diff []pair
	for len(same) < nSame || len(diff) < nDiff {
		i, j := r.IntN(len(fs)), r.IntN(len(fs))
		if i == j {
			continue
		}
		p := pair{d: s(&fs[i], &fs[j]), same: fs[i].label == fs[j].label}
		if p.same && len(same) < nSame {
			same = append(same, p)
		} else if !p.same && len(diff) < nDiff {
			diff = append(diff, p)
		}
	}
	return append(same, diff...)
}

// cvResult is one method's identity-disjoint cross-validation.
type cvResult struct {
	sampled  []float64 // per repeat: accuracy on the nPairs + nPairs drawn test pairs
	balanced []float64 // per repeat: mean over folds of balanced accuracy on all test pairs
	tar1     []float64 // per repeat: mean over folds of TAR at 1% FAR
	tar01    []float64 // per repeat: at 0.1% FAR
}

// crossValidate splits the people into k folds, repeats times with
// different shuffles: each fold's people are tested with a scorer fitted,
// and a threshold calibrated (best balanced accuracy over all pairs), on
// the other folds' people only. Each repeat draws nPairs same and nPairs
// different test pairs in all, shared evenly between the folds.
func crossValidate(fs []face, m method, k, repeats, nPairs int) (cvResult, error) {
	var labels []string
	for _, f := range fs {
		if !slices.Contains(labels, f.label) {
			labels = append(labels, f.label)
		}
	}
	slices.Sort(labels)
	var res cvResult
	for rep := range repeats {
		r := rand.New(rand.NewPCG(uint64(rep)+1, 7))
		r.Shuffle(len(labels), func(i, j int) { labels[i], labels[j] = labels[j], labels[i] })
		var sampled []pair
		var bal, t1, t01 float64
		for fold := range k {
			test := map[string]bool{}
			for i := fold; i < len(labels); i += k {
				test[labels[i]] = true
			}
			var trainF, testF []face
			for _, f := range fs {
				if test[f.label] {
					testF = append(testF, f)
				} else {
					trainF = append(trainF, f)
				}
			}
			mod, err := m.fit(trainF)
			if err != nil {
				return res, err
			}
			trainF, testF, s := mod.apply(trainF), mod.apply(testF), mod.score
			th := 0.0
			if !mod.fixed {
				th = bestThreshold(allPairs(trainF, s))
			}
			n := nPairs/k + boolInt(fold < nPairs%k)
			for _, p := range samplePairs(testF, s, n, n, r) {
				sampled = append(sampled, pair{d: p.d - th, same: p.same})
			}
			all := allPairs(testF, s)
			bal += balancedAccuracy(all, th) / float64(k)
			a, _ := tarAt(all, 0.01)
			b, _ := tarAt(all, 0.001)
			t1 += a / float64(k)
			t01 += b / float64(k)
		}
		res.sampled = append(res.sampled, accuracy(sampled, 0))
		res.balanced = append(res.balanced, bal)
		res.tar1 = append(res.tar1, t1)
		res.tar01 = append(res.tar01, t01)
	}
	return res, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// balancedAccuracy is the mean of the same and different pairs' rates of
// right answers at th.
func balancedAccuracy(ps []pair, th float64) float64 {
	var okS, nS, okD, nD float64
	for _, p := range ps {
		if p.same {
			nS++
			if p.d <= th {
				okS++
			}
		} else {
			nD++
			if p.d > th {
				okD++
			}
		}
	}
	return (okS/nS + okD/nD) / 2
}

// meanSD is a sample's mean and standard deviation, in percent.
func meanSD(xs []float64) string {
	var m, v float64
	for _, x := range xs {
		m += x / float64(len(xs))
	}
	for _, x := range xs {
		v += (x - m) * (x - m) / float64(max(1, len(xs)-1))
	}
	return fmt.Sprintf("%.2f ±%.2f", 100*m, 100*math.Sqrt(v))
}

// halfSplit is the protocol of verifyReport on fs with a fixed scorer:
// threshold calibrated on each person's even-numbered photos, nPairs same
// and nPairs different pairs of the odd-numbered ones (seed 1, 2).
func halfSplit(fs []face, s scorer, nPairs int) (th, acc float64) {
	cal, test := evenOdd(fs)
	th = bestThreshold(allPairs(cal, s))
	return th, accuracy(samplePairs(test, s, nPairs, nPairs, rand.New(rand.NewPCG(1, 2))), th)
}

// evenOdd splits fs into each person's even-numbered photos (calibration)
// and odd-numbered ones (test), the half split's two sides.
func evenOdd(fs []face) (cal, test []face) {
	seen := map[string]int{}
	for _, f := range fs {
		if seen[f.label]%2 == 0 {
			cal = append(cal, f)
		} else {
			test = append(test, f)
		}
		seen[f.label]++
	}
	return cal, test
}

// verifyStudy prints the verify measurements of the session's levers,
// each against the shipped decision before this study (main face, mean
// with the mirror, plain distance) on the same folds and pairs: the
// per-shuffle differences are paired, so their spread is the noise.
func verifyStudy(c *augCache, nPairs int) error {
	const k, repeats = 4, 5
	fmt.Printf("identity-disjoint CV: %d folds of the 17 people, %d shuffles; per shuffle %d same + %d different test pairs\n", k, repeats, nPairs, nPairs)
	fmt.Println("descriptor | face | method | half-split thr/acc | CV sampled acc (change) | CV balanced acc, all test pairs (change) | TAR@1% | TAR@0.1%")
	differ := 0
	for _, p := range c.Photos {
		if p.Main != p.Surest {
			differ++
			fmt.Printf("  %s: main face %v score %.3f, surest %v score %.3f\n", p.Path, p.Faces[p.Main].Box, p.Faces[p.Main].Score, p.Faces[p.Surest].Box, p.Faces[p.Surest].Score)
		}
	}
	fmt.Printf("%d of %d photos have a surest face other than their main face\n", differ, len(c.Photos))
	fs, err := facesOf(c, false, []string{"plain", "flip"})
	if err != nil {
		return err
	}
	ref, err := crossValidate(fs, plainMethod, k, repeats, nPairs)
	if err != nil {
		return err
	}
	for _, v := range studyVariants {
		fs, err := facesOf(c, v.surest, strings.Split(v.augs, ","))
		if err != nil {
			return err
		}
		for _, m := range v.methods {
			half := "-"
			if m.name == "euclid" {
				th, acc := halfSplit(fs, euclid, nPairs)
				half = fmt.Sprintf("%.3f / %.2f", th, 100*acc)
			}
			res, err := crossValidate(fs, m, k, repeats, nPairs)
			if err != nil {
				return err
			}
			face := "main"
			if v.surest {
				face = "surest"
			}
			fmt.Printf("%s | %s | %s | %s | %s (%s) | %s (%s) | %s | %s\n", v.augs, face, m.name, half,
				meanSD(res.sampled), meanSD(minus(res.sampled, ref.sampled)), meanSD(res.balanced), meanSD(minus(res.balanced, ref.balanced)),
				meanSD(res.tar1), meanSD(res.tar01))
		}
	}
	if len(chosen) > 0 {
		fmt.Println("shrinkages the inner CV chose (shrinkage: folds):", chosen)
	}
	return nil
}

func minus(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// printVerifyRule fits the shipped verify rule on every person's main
// faces, described as verify describes them (mean with the mirror), and
// prints it as Go for library.DefaultVerifyRule.
func printVerifyRule(c *augCache) error {
	fs, err := facesOf(c, false, []string{"plain", "flip"})
	if err != nil {
		return err
	}
	rule, err := library.FitVerifyRule(verifyPairs(fs, euclid))
	if err != nil {
		return err
	}
	fmt.Printf("var DefaultVerifyRule = VerifyRule{\n\tW: [8]float64{")
	for k, w := range rule.W {
		if k > 0 {
			fmt.Print(", ")
		}
		fmt.Printf("%.6g", w)
	}
	fmt.Printf("},\n\tLo: %.4f, Hi: %.4f,\n}\n", rule.Lo, rule.Hi)
	all := allPairs(fs, func(a, b *face) float64 { return euclid(a, b) - rule.Threshold(a.q, b.q) })
	fmt.Printf("// on its own %d pairs (not a held-out figure): balanced accuracy %.2f%%\n", len(all), 100*balancedAccuracy(all, 0))
	return halfSplitRule(fs, nPairsHalf)
}

// nPairsHalf is the half split's drawn pairs of each kind.
const nPairsHalf = 1000

// halfSplitRule compares the one threshold with library.VerifyRule on the
// half split: both fitted on each person's even-numbered photos, measured
// on pairs drawn from the odd-numbered ones and on all their pairs.
func halfSplitRule(fs []face, nPairs int) error {
	cal, test := evenOdd(fs)
	rule, err := library.FitVerifyRule(verifyPairs(cal, euclid))
	if err != nil {
		return err
	}
	th := bestThreshold(allPairs(cal, euclid))
	for _, c := range []struct {
		name string
		s    scorer
	}{
		{fmt.Sprintf("one threshold (%.3f)", th), func(a, b *face) float64 { return euclid(a, b) - th }},
		{"library.VerifyRule", func(a, b *face) float64 { return euclid(a, b) - rule.Threshold(a.q, b.q) }},
	} {
		drawn := accuracy(samplePairs(test, c.s, nPairs, nPairs, rand.New(rand.NewPCG(1, 2))), 0)
		fmt.Printf("half split, %s: %.2f%% of %d + %d drawn pairs, balanced %.2f%% over all %d test pairs\n",
			c.name, 100*drawn, nPairs, nPairs, 100*balancedAccuracy(allPairs(test, c.s), 0), len(test)*(len(test)-1)/2)
	}
	return nil
}

// studyVariant is a descriptor (augments averaged, which face) and the
// methods measured on it.
type studyVariant struct {
	augs    string
	surest  bool
	methods []method
}

var plainMethod = method{"euclid", func([]face) (model, error) { return model{score: euclid}, nil }}

// studyVariants are every measurement of docs/EXPERIMENTS.md's "Verify
// (issue 14, session 7)" section; all of them take about an hour on two
// busy cores (the diagonal metric and the view pairs most).
var studyVariants = []studyVariant{
	{augs: "plain", methods: []method{plainMethod, whiten(0.9), whiten(0.75), whiten(0.5), whiten(0.25), whiten(0.1),
		whitenNested([]float64{0.9, 0.75, 0.5, 0.25, 0.1})}},
	{augs: "plain,flip", methods: []method{plainMethod, qualityAware(plainMethod), diagonal(1e-3), diagonal(1e-2), viewsMin,
		snorm(plainMethod, 0, false), snorm(plainMethod, 0, true), snorm(plainMethod, 100, false), snorm(plainMethod, 20, false)}},
	{augs: "plain,flip", surest: true, methods: []method{plainMethod, qualityAware(plainMethod)}},
	{augs: "plain,flip,s0.92,s0.92f,s1.08,s1.08f", methods: []method{plainMethod}},
	{augs: "plain,flip,x-,x+,y-,y+", methods: []method{plainMethod}},
	{augs: "plain,flip,r-,r+", methods: []method{plainMethod}},
	{augs: "plain,flip,g0.8,g1.25", methods: []method{plainMethod}},
	{augs: "plain,flip,grey", methods: []method{plainMethod}},
	{augs: "plain,flip,s0.92,s0.92f,s1.08,s1.08f,x-,x+,y-,y+,r-,r+,g0.8,g1.25,grey", methods: []method{plainMethod}},
}
