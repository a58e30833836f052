package main

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/progress"
)

// The fusion measurement (task "mfn"): does a second descriptor net, trained
// with a margin loss on MS1M, add to face-api's? identify's head is built for
// 128 values, so this compares descriptors under one protocol of its own that
// any length fits: nearest class centroid (Euclidean), the unknown rule a
// distance limit at the target FRR of the training photos' leave-one-out
// distances to their own centroid. The same folds, triples and main faces as
// cv and strangers.

// fusionNets are the second nets measured, by descriptor index in the cache.
var fusionNets = []string{faces.MobileFaceNet, faces.MobileFace, faces.FaceRes}

// secondScale is the first two second nets' input scaling (mean, div) and secondBGR
// their channel order: flags, to find what the nets were trained on.
var (
	secondScale = [2][2]float32{{127.5, 128}, {0, 1}}
	secondBGR   bool
	// secondPad, when >= 0, replaces the ArcFace template by dlib's chip
	// geometry at 112 pixels with this padding (faces.ChipTemplate).
	secondPad = -1.0
)

// secondCache holds the second nets' descriptors of every face of every
// photo, by path: [face][net] descriptor.
type secondCache map[string][][][]float32

func (e *env) secondDescriptors(photos []identify.Photo) (secondCache, error) {
	tag := fmt.Sprintf("%s-%d-%g-%g-%g-%g-%v-repair%v-pad%g", strings.ReplaceAll(faces.PipelineVersion, "/", "_"), len(fusionNets),
		secondScale[0][0], secondScale[0][1], secondScale[1][0], secondScale[1][1], secondBGR, faces.ArcRepair, secondPad)
	path := filepath.Join(e.out, "fusion-second-"+tag+".gob")
	c := secondCache{}
	if f, err := os.Open(path); err == nil {
		err = gob.NewDecoder(f).Decode(&c)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dir, err := faces.ModelDir()
	if err != nil {
		return nil, err
	}
	nets := make([]*faces.ArcDescriber, len(fusionNets))
	for i, n := range fusionNets {
		if nets[i], err = faces.LoadArcDescriber(dir, n); err != nil {
			return nil, err
		}
		if i < len(secondScale) {
			nets[i].Mean, nets[i].Div = secondScale[i][0], secondScale[i][1]
		}
		nets[i].BGR = secondBGR
		if secondPad >= 0 {
			nets[i].Template = faces.ChipTemplate(nets[i].Template.Size, secondPad)
		}
	}
	prog := progress.New(os.Stderr, 0, "second descriptors").Func()
	added := 0
	for k, p := range photos {
		if _, ok := c[p.Path]; ok || len(p.Faces) == 0 {
			continue
		}
		rgba, err := data.DecodeFile(p.Path, data.DefaultMaxPixels)
		if err != nil {
			return nil, err
		}
		img := faces.FromImage(rgba)
		per := make([][][]float32, len(p.Faces))
		for i, f := range p.Faces {
			for _, n := range nets {
				d, err := n.Describe(img, f.Landmarks)
				if err != nil {
					return nil, fmt.Errorf("%s face %d: %w", p.Path, i, err)
				}
				per[i] = append(per[i], d)
			}
		}
		c[p.Path] = per
		added++
		if prog != nil {
			prog(k+1, len(photos))
		}
	}
	if added > 0 {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := gob.NewEncoder(f).Encode(c); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "second descriptors: %d photos described, %d cached (%s)\n", added, len(c)-added, path)
	return c, nil
}

// fusionVariant builds one descriptor per face from the first (a) and the
// second nets' descriptors (b: MobileFaceNet, c: MobileFace).
type fusionVariant struct {
	name string
	make func(a []float32, second [][]float32) []float32
}

// unitScaled returns v scaled to length sqrt(w): concatenating such parts
// makes the squared distance the w-weighted sum of each part's squared
// chord distance, so no net dominates by the scale of its values.
func unitScaled(v []float32, w float64) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	s := math.Sqrt(w / ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * s)
	}
	return out
}

func concatWeighted(parts [][]float32, w []float64) []float32 {
	var out []float32
	for i, p := range parts {
		out = append(out, unitScaled(p, w[i])...)
	}
	return out
}

// centred subtracts mean from v and scales the rest to unit length:
// MobileFaceNet's embeddings all point almost the same way (cosine 0.99
// between any two faces, or a grey square), and what tells faces apart is
// the small rest.
func centred(v, mean []float32) []float32 {
	out := make([]float32, len(v))
	for i := range v {
		out[i] = v[i] - mean[i]
	}
	return unitScaled(out, 1)
}

func fusionVariants(meanB []float32) []fusionVariant {
	vs := []fusionVariant{
		{"a: face-api 128-D", func(a []float32, _ [][]float32) []float32 { return a }},
		{"a normalised", func(a []float32, _ [][]float32) []float32 { return unitScaled(a, 1) }},
		{"b: MobileFaceNet 192-D", func(_ []float32, s [][]float32) []float32 { return s[0] }},
		{"b': MobileFaceNet centred", func(_ []float32, s [][]float32) []float32 { return centred(s[0], meanB) }},
		{"c: MobileFace 256-D", func(_ []float32, s [][]float32) []float32 { return s[1] }},
		{"a+b' 0.5", func(a []float32, s [][]float32) []float32 {
			return concatWeighted([][]float32{a, centred(s[0], meanB)}, []float64{0.5, 0.5})
		}},
	}
	for _, w := range []float64{0.3, 0.5, 0.7} {
		vs = append(vs, fusionVariant{fmt.Sprintf("a+b, weight of a %.1f", w), func(a []float32, s [][]float32) []float32 {
			return concatWeighted([][]float32{a, s[0]}, []float64{w, 1 - w})
		}})
	}
	for _, w := range []float64{0.5, 0.7, 0.85} {
		vs = append(vs, fusionVariant{fmt.Sprintf("a+c, weight of a %.2f", w), func(a []float32, s [][]float32) []float32 {
			return concatWeighted([][]float32{a, s[1]}, []float64{w, 1 - w})
		}})
	}
	vs = append(vs, fusionVariant{"d: FaceRes 1024-D", func(_ []float32, s [][]float32) []float32 { return s[2] }})
	for _, w := range []float64{0.5, 0.7} {
		vs = append(vs, fusionVariant{fmt.Sprintf("a+d, weight of a %.2f", w), func(a []float32, s [][]float32) []float32 {
			return concatWeighted([][]float32{a, s[2]}, []float64{w, 1 - w})
		}})
	}
	vs = append(vs, fusionVariant{"a+b+c, equal weights", func(a []float32, s [][]float32) []float32 {
		return concatWeighted([][]float32{a, s[0], s[1]}, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3})
	}})
	return vs
}

// fusion measures every fusion variant: cross-validation, strangers and
// verification pairs.
func (e *env) fusion() error {
	if e.variant != "base" {
		return errors.New("fusion builds on the base variant's faces; run it with -variant base")
	}
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	second, err := e.secondDescriptors(photos)
	if err != nil {
		return err
	}
	label := make([]int, len(photos))
	for i, s := range e.data.Samples {
		label[i] = s.Class
	}
	fold := e.foldOf()
	fmt.Printf("fusion: nearest centroid, unknown rule at target FRR %.3f, seed %d, %d photos\n", e.frr, e.seed, len(photos))
	fmt.Println("variant                     | CV open top-1   wrong  unknown | strangers unknown  known refused | pooled: strangers named at <=1% refused | verify acc")
	var meanB []float32
	nb := 0
	for _, p := range photos {
		if j := mainIndex(e, p.Faces); j >= 0 {
			b := second[p.Path][j][0]
			if meanB == nil {
				meanB = make([]float32, len(b))
			}
			for i, v := range b {
				meanB[i] += v
			}
			nb++
		}
	}
	for i := range meanB {
		meanB[i] /= float32(nb)
	}
	for _, v := range fusionVariants(meanB) {
		desc := make([][]float32, len(photos)) // main face, nil without
		for i, p := range photos {
			if j := mainIndex(e, p.Faces); j >= 0 {
				desc[i] = v.make(p.Faces[j].Descriptor, second[p.Path][j])
			}
		}
		cv := fusionCV(desc, label, fold, len(e.data.Classes), e.frr)
		st := fusionStrangers(desc, label, fold, len(e.data.Classes), e.frr, e.seed)
		acc := fusionVerify(desc, label, e.seed)
		fmt.Printf("%-27s | %6.2f±%.2f%%  %5.2f%%  %6.2f%% | %8.2f%% ±%.2f  %8.2f%% ±%.2f | %6.2f%% (refusing %.2f%%) | %.2f%%\n",
			v.name, cv.open, cv.openSD, cv.wrong, cv.unknown, st.unknown, st.unknownSD, st.refused, st.refusedSD,
			st.pooledNamed, st.pooledRefused, acc)
	}
	return nil
}

// centroidModel is the nearest-centroid classifier with its distance limit.
type centroidModel struct {
	cen   [][]float32
	limit float64
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// fitCentroids fits on the rows train selects with label >= 0; the limit
// is the (1-frr) quantile of each row's distance to its class centroid
// without itself.
func fitCentroids(desc [][]float32, label []int, k int, frr float64, train func(i int) bool) centroidModel {
	var m centroidModel
	dim := 0
	for _, d := range desc {
		if d != nil {
			dim = len(d)
			break
		}
	}
	sum := make([][]float64, k)
	n := make([]int, k)
	for c := range sum {
		sum[c] = make([]float64, dim)
	}
	for i, d := range desc {
		if d == nil || label[i] < 0 || !train(i) {
			continue
		}
		n[label[i]]++
		for j, v := range d {
			sum[label[i]][j] += float64(v)
		}
	}
	m.cen = make([][]float32, k)
	for c := range k {
		m.cen[c] = make([]float32, dim)
		for j := range dim {
			m.cen[c][j] = float32(sum[c][j] / float64(max(n[c], 1)))
		}
	}
	var loo []float64
	tmp := make([]float32, dim)
	for i, d := range desc {
		if d == nil || label[i] < 0 || !train(i) || n[label[i]] < 2 {
			continue
		}
		c := label[i]
		for j := range dim {
			tmp[j] = float32((sum[c][j] - float64(d[j])) / float64(n[c]-1))
		}
		loo = append(loo, dist(d, tmp))
	}
	sort.Float64s(loo)
	m.limit = loo[min(len(loo)-1, int(math.Ceil((1-frr)*float64(len(loo))))-1)]
	return m
}

// answer is the nearest class and the distance over the limit (> 1:
// unknown); class -1 without a face.
func (m centroidModel) answer(d []float32) (int, float64) {
	if d == nil {
		return -1, math.Inf(1)
	}
	best, bd := -1, math.Inf(1)
	for c, cen := range m.cen {
		if x := dist(d, cen); x < bd {
			best, bd = c, x
		}
	}
	return best, bd / m.limit
}

type cvResult struct{ open, openSD, wrong, unknown float64 }

func fusionCV(desc [][]float32, label, fold []int, k int, frr float64) cvResult {
	var open, wrong, unk []float64
	for f := range folds {
		m := fitCentroids(desc, label, k, frr, func(i int) bool { return fold[i] != f })
		var t tally
		for i := range desc {
			if fold[i] != f {
				continue
			}
			t.n++
			c, s := m.answer(desc[i])
			switch {
			case c < 0 || s > 1:
				t.unknown++
			case c == label[i]:
				t.right++
			default:
				t.wrong++
			}
		}
		open, wrong, unk = append(open, t.pct(t.right)), append(wrong, t.pct(t.wrong)), append(unk, t.pct(t.unknown))
	}
	var r cvResult
	r.open, r.openSD = eval.MeanSpread(open)
	r.wrong, _ = eval.MeanSpread(wrong)
	r.unknown, _ = eval.MeanSpread(unk)
	return r
}

type strangerResult struct {
	unknown, unknownSD, refused, refusedSD float64
	pooledNamed, pooledRefused             float64
}

func fusionStrangers(desc [][]float32, label, fold []int, k int, frr float64, seed uint64) strangerResult {
	var su, kr, genuine, impostor []float64
	for _, tr := range pickTriples(k, seed) {
		lab := make([]int, len(label))
		for i, l := range label {
			lab[i] = l
			if l == tr[0] || l == tr[1] || l == tr[2] {
				lab[i] = -1
			}
		}
		m := fitCentroids(desc, lab, k, frr, func(i int) bool { return fold[i] != 0 })
		var strangers, rejected, known, refused int
		for i, d := range desc {
			c, s := m.answer(d)
			switch {
			case lab[i] < 0:
				strangers++
				impostor = append(impostor, s)
				if c < 0 || s > 1 {
					rejected++
				}
			case fold[i] == 0:
				known++
				genuine = append(genuine, s)
				if c < 0 || s > 1 {
					refused++
				}
			}
		}
		su = append(su, 100*float64(rejected)/float64(strangers))
		kr = append(kr, 100*float64(refused)/float64(known))
	}
	var r strangerResult
	r.unknown, r.unknownSD = eval.MeanSpread(su)
	r.refused, r.refusedSD = eval.MeanSpread(kr)
	best := eval.DETPoint{FAR: math.Inf(1)}
	for _, p := range eval.DET(genuine, impostor) {
		if p.FRR <= 0.01 && p.FAR < best.FAR {
			best = p
		}
	}
	r.pooledNamed, r.pooledRefused = 100*best.FAR, 100*best.FRR
	return r
}

// fusionVerify draws 1,000 same-person and 1,000 different-person pairs of
// main faces twice (seeded), picks the distance threshold with the best
// accuracy on one draw and reports the accuracy on the other, both ways.
func fusionVerify(desc [][]float32, label []int, seed uint64) float64 {
	rng := rand.New(rand.NewPCG(seed, 0x7665)) // "ve"
	var idx []int
	for i, d := range desc {
		if d != nil {
			idx = append(idx, i)
		}
	}
	draw := func() (same, diff []float64) {
		for len(same) < 1000 || len(diff) < 1000 {
			a, b := idx[rng.IntN(len(idx))], idx[rng.IntN(len(idx))]
			if a == b {
				continue
			}
			d := dist(desc[a], desc[b])
			if label[a] == label[b] && len(same) < 1000 {
				same = append(same, d)
			} else if label[a] != label[b] && len(diff) < 1000 {
				diff = append(diff, d)
			}
		}
		return same, diff
	}
	s1, d1 := draw()
	s2, d2 := draw()
	return (accuracyAt(s2, d2, bestThreshold(s1, d1)) + accuracyAt(s1, d1, bestThreshold(s2, d2))) / 2
}

func accuracyAt(same, diff []float64, t float64) float64 {
	ok := 0
	for _, d := range same {
		if d <= t {
			ok++
		}
	}
	for _, d := range diff {
		if d > t {
			ok++
		}
	}
	return 100 * float64(ok) / float64(len(same)+len(diff))
}

func bestThreshold(same, diff []float64) float64 {
	cands := slices.Concat(same, diff)
	best, bt := -1.0, 0.0
	for _, t := range cands {
		if a := accuracyAt(same, diff, t); a > best {
			best, bt = a, t
		}
	}
	return bt
}
