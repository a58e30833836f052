package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"starid/internal/library/knn"
)

// face is one photo's chosen face for the verify study: its person, its
// descriptor (the mean of the chosen augments') and what a quality-aware
// decision may use.
type face struct {
	label string
	d     []float32
	q     faceQuality
}

// faceQuality is what is known of a face besides its descriptor.
type faceQuality struct {
	score float64 // detector confidence
	side  float64 // log of the box's shorter side, pixels
	yaw   float64 // |nose tip offset from the eyes' midpoint| / eye span
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
		}
		out = append(out, face{label: p.Label, d: d, q: qualityOf(f)})
	}
	return out, nil
}

// qualityOf measures a face: the yaw proxy is how far the nose tip
// (landmark 30) sits from the midpoint of the outer eye corners (36, 45)
// along the eye line, over their distance: 0 frontal, ~0.5 in profile.
func qualityOf(f cachedFace) faceQuality {
	q := faceQuality{score: f.Score, side: math.Log(max(1, min(f.Box[2], f.Box[3])))}
	if len(f.Landmarks) == 68 {
		l, r, n := f.Landmarks[36], f.Landmarks[45], f.Landmarks[30]
		ex, ey := r.X-l.X, r.Y-l.Y
		span := math.Hypot(ex, ey)
		if span > 0 {
			q.yaw = math.Abs(((n.X-(l.X+r.X)/2)*ex + (n.Y-(l.Y+r.Y)/2)*ey) / (span * span))
		}
	}
	return q
}

// scorer rates a pair of faces, lower meaning more alike; fitted on the
// training people only.
type scorer func(a, b *face) float64

// model is a fitted decision: prep maps each face once (nil: unchanged),
// then score rates pairs of mapped faces.
type model struct {
	prep  func(face) face
	score scorer
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
			ps = append(ps, pair{s(&fs[i], &fs[j]), fs[i].label == fs[j].label})
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
		p := pair{s(&fs[i], &fs[j]), fs[i].label == fs[j].label}
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
			th := bestThreshold(allPairs(trainF, s))
			n := nPairs/k + boolInt(fold < nPairs%k)
			for _, p := range samplePairs(testF, s, n, n, r) {
				sampled = append(sampled, pair{p.d - th, p.same})
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
	var cal, test []face
	seen := map[string]int{}
	for _, f := range fs {
		if seen[f.label]%2 == 0 {
			cal = append(cal, f)
		} else {
			test = append(test, f)
		}
		seen[f.label]++
	}
	th = bestThreshold(allPairs(cal, s))
	return th, accuracy(samplePairs(test, s, nPairs, nPairs, rand.New(rand.NewPCG(1, 2))), th)
}

// verifyStudy prints the verify measurements of the session's levers.
func verifyStudy(c *augCache, nPairs int) error {
	const k, repeats = 4, 5
	fmt.Printf("identity-disjoint CV: %d folds of the 17 people, %d shuffles; per shuffle %d same + %d different test pairs\n", k, repeats, nPairs, nPairs)
	fmt.Println("descriptor | face | method | half-split thr/acc | CV sampled acc | CV balanced acc (all test pairs) | TAR@1% | TAR@0.1%")
	for _, v := range studyVariants {
		fs, err := facesOf(c, v.surest, strings.Split(v.augs, "+"))
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
			fmt.Printf("%s | %s | %s | %s | %s | %s | %s | %s\n", v.augs, face, m.name, half,
				meanSD(res.sampled), meanSD(res.balanced), meanSD(res.tar1), meanSD(res.tar01))
		}
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

var studyVariants = []studyVariant{
	{augs: "plain", methods: []method{plainMethod}},
	{augs: "plain+flip", methods: []method{plainMethod}},
	{augs: "plain+flip", surest: true, methods: []method{plainMethod}},
	{augs: "plain+flip+s0.92+s0.92f+s1.08+s1.08f", methods: []method{plainMethod}},
	{augs: "plain+flip+x-+x++y-+y+", methods: []method{plainMethod}},
	{augs: "plain+flip+r-+r+", methods: []method{plainMethod}},
	{augs: "plain+flip+g0.8+g1.25", methods: []method{plainMethod}},
	{augs: "plain+flip+grey", methods: []method{plainMethod}},
	{augs: "plain+flip+s0.92+s0.92f+s1.08+s1.08f+x-+x++y-+y++r-+r++g0.8+g1.25+grey", methods: []method{plainMethod}},
}
