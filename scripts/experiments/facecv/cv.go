package main

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/library/knn"
	"starid/internal/progress"
)

const folds = 5

// head is what `train --model face` uses by default.
func (e *env) head() identify.HeadConfig {
	return identify.HeadConfig{Epochs: identify.DefaultEpochs, Batch: 32, Optimizer: "adam", LR: identify.DefaultLR, Seed: e.seed}
}

// describeAll describes every photo of the data set with the variant.
func (e *env) describeAll() ([]identify.Photo, error) {
	d, version, err := e.describer()
	if err != nil {
		return nil, err
	}
	c := &identify.Cache{Dir: identify.CacheDirUnder(e.cache, version), Version: version}
	paths := make([]string, len(e.data.Samples))
	for i, s := range e.data.Samples {
		paths[i] = s.Path
	}
	photos, st, err := identify.Describe(e.ctx, d, paths, nil, identify.DescribeOptions{Cache: c, Progress: progress.New(os.Stderr, 0, "describing faces").Func()})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "variant %s: %d photos, %d cached, %d described, %d unusable\n",
		e.variant, len(photos), st.Cached, st.Computed, st.Unusable)
	return photos, nil
}

// mainFace picks a photo's face by the -main rule.
func (e *env) mainFace(fs []faces.Face) []float32 {
	if i := mainIndex(e, fs); i >= 0 {
		return fs[i].Descriptor
	}
	return nil
}

func mainIndex(e *env, fs []faces.Face) int {
	best := -1
	switch e.choose {
	case "largest":
		for i, f := range fs {
			if best < 0 || f.Box.Area() > fs[best].Box.Area() {
				best = i
			}
		}
	case "score":
		for i, f := range fs {
			if best < 0 || f.Score > fs[best].Score {
				best = i
			}
		}
	default:
		best = faces.MainFace(fs)
	}
	return best
}

// foldOf assigns each sample a fold by its place in a seeded per-class
// shuffle, so every fold has a fifth of every person.
func (e *env) foldOf() []int {
	rng := rand.New(rand.NewPCG(e.seed, 0x6376)) // "cv"
	byClass := make([][]int, len(e.data.Classes))
	for i, s := range e.data.Samples {
		byClass[s.Class] = append(byClass[s.Class], i)
	}
	fold := make([]int, len(e.data.Samples))
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for r, i := range idx {
			fold[i] = r % folds
		}
	}
	return fold
}

// tally counts the decisions on known people's photos.
type tally struct {
	n, right, wrong, unknown, closed int
}

func (t tally) pct(k int) float64 { return 100 * float64(k) / float64(max(t.n, 1)) }

// fitOn trains and calibrates a model on the main faces of the photos
// train selects, over the classes kept (relabelled 0..).
func (e *env) fitOn(photos []identify.Photo, train func(i int) bool, label []int, classes []string) (*decider, error) {
	var x [][]float32
	var y []int
	var from []int
	for i, p := range photos {
		if !train(i) || label[i] < 0 {
			continue
		}
		if d := e.mainFace(p.Faces); d != nil {
			x, y, from = append(x, d), append(y, label[i]), append(from, i)
		}
	}
	if e.trainPick == "nearest" {
		cen := centroidsOf(x, y, len(classes))
		for r, i := range from {
			best := math.Inf(1)
			for _, f := range photos[i].Faces {
				if d := knn.Distance(f.Descriptor, cen[y[r]]); d < best {
					best, x[r] = d, f.Descriptor
				}
			}
		}
	}
	if len(augNames) == 0 {
		return e.fitDecider(classes, x, y)
	}
	if normFlag != "none" {
		return nil, fmt.Errorf("-aug with -norm %s is not measured", normFlag)
	}
	m, rule, err := e.fitAugmented(photos, x, y, from, classes)
	same := func(v []float32) []float32 { return v }
	return &decider{m: m, rule: rule, headIn: same, ruleIn: same}, err
}

// fitAugmented adds the augmented descriptors of the training photos (rows
// from) to x, fits on all, and calibrates as -augcal says.
func (e *env) fitAugmented(photos []identify.Photo, x [][]float32, y, from []int, classes []string) (*identify.Model, identify.Rule, error) {
	aug, err := e.augmented(photos, augNames)
	if err != nil {
		return nil, identify.Rule{}, err
	}
	n0 := len(x)
	group := make([]int, n0)
	for r := range n0 {
		group[r] = r
	}
	xa, ya := slices.Clone(x), slices.Clone(y)
	for r, i := range from {
		for _, d := range sortedValues(aug[i]) {
			xa, ya, group = append(xa, d), append(ya, y[r]), append(group, r)
		}
	}
	m, err := identify.Fit(e.ctx, classes, xa, ya, e.head(), nil)
	if err != nil {
		return nil, identify.Rule{}, err
	}
	var rule identify.Rule
	switch augCal {
	case "plain": // the photos as taken, as without augmentation
		rule, _, err = identify.Calibrate(e.ctx, classes, x, y, e.head(), e.frr)
	case "orig": // the photos as taken against centroids with the copies
		rule, _, err = identify.CalibrateGroups(e.ctx, classes, xa, ya, group, n0, e.frr)
	case "all": // every row, each without its photo's rows
		rule, _, err = identify.CalibrateGroups(e.ctx, classes, xa, ya, group, len(xa), e.frr)
	default:
		err = fmt.Errorf("-augcal %q: want plain, orig or all", augCal)
	}
	return m, rule, err
}

func sortedValues(m map[string][]float32) [][]float32 {
	var out [][]float32
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// testFace is the face a photo is answered by: the main face, or with
// -testpick recog the face (of any found) the model is surest of.
func (e *env) testFace(d *decider, fs []faces.Face) []float32 {
	if e.testPick != "recog" {
		return e.mainFace(fs)
	}
	if i, _ := d.photo(fs); i >= 0 {
		return fs[i].Descriptor
	}
	return nil
}

// answer is the model's decision on a photo's main face; ok is false when
// no face was found. score is the rejection score of the DET curve: the
// distance to the named centroid over the rule's limit (1 at the operating
// point), +Inf when the probability floor or a missing face rejects.
func answer(d *decider, desc []float32) (a identify.Answer, score float64, ok bool) {
	if desc == nil {
		return a, math.Inf(1), false
	}
	a = d.identify(desc)
	score = a.Distance / d.rule.MaxDistance
	if !(a.Probability >= d.rule.MinProbability) {
		score = math.Inf(1)
	}
	return a, score, true
}

func (e *env) crossValidate() error {
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	fold := e.foldOf()
	label := make([]int, len(photos))
	for i, s := range e.data.Samples {
		label[i] = s.Class
	}
	var all tally
	var open, wrong, unk, closed []float64
	fmt.Printf("variant %s, norm %s, main face %s, target FRR %.3f, seed %d\n", e.variant, normFlag, e.choose, e.frr, e.seed)
	fmt.Println("fold  photos  top-1 open  wrong  unknown  closed top-1")
	for f := range folds {
		d, err := e.fitOn(photos, func(i int) bool { return fold[i] != f }, label, e.data.Classes)
		if err != nil {
			return err
		}
		var t tally
		for i, p := range photos {
			if fold[i] != f {
				continue
			}
			t.n++
			a, _, ok := answer(d, e.testFace(d, p.Faces))
			switch {
			case !ok || a.Class == eval.Unknown:
				t.unknown++
			case a.Class == label[i]:
				t.right++
			default:
				t.wrong++
			}
			if ok && a.Best == label[i] {
				t.closed++
			}
			if verbose && (!ok || a.Class != label[i]) {
				fmt.Fprintf(os.Stderr, "miss fold %d %s: faces %d, answer %q best %s p=%.2f d=%.3f (limit %.3f)\n",
					f, p.Path, len(p.Faces), a.Name, e.data.Classes[max(a.Best, 0)], a.Probability, a.Distance, d.rule.MaxDistance)
			}
		}
		fmt.Printf("%4d  %6d  %9.2f%%  %4.2f%%  %6.2f%%  %11.2f%%\n", f, t.n, t.pct(t.right), t.pct(t.wrong), t.pct(t.unknown), t.pct(t.closed))
		open, wrong = append(open, t.pct(t.right)), append(wrong, t.pct(t.wrong))
		unk, closed = append(unk, t.pct(t.unknown)), append(closed, t.pct(t.closed))
		all = tally{all.n + t.n, all.right + t.right, all.wrong + t.wrong, all.unknown + t.unknown, all.closed + t.closed}
	}
	ms := func(x []float64) string { m, s := eval.MeanSpread(x); return fmt.Sprintf("%.2f±%.2f", m, s) }
	fmt.Printf("mean±sd     %s  %s  %s  %s\n", ms(open), ms(wrong), ms(unk), ms(closed))
	fmt.Printf("pooled %d decisions: %d right (%.2f%%), %d wrong names (%.2f%%), %d unknown (%.2f%%), closed-set %.2f%%\n",
		all.n, all.right, all.pct(all.right), all.wrong, all.pct(all.wrong), all.unknown, all.pct(all.unknown), all.pct(all.closed))
	return nil
}
