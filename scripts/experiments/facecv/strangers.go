package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"

	"starid/internal/eval"
	"starid/internal/report"
)

// triples is how many different triples of people are left out in turn.
const triples = 12

// pickTriples draws distinct seeded triples of class indices.
func pickTriples(k int, seed uint64) [][3]int {
	rng := rand.New(rand.NewPCG(seed, 0x7472)) // "tr"
	var out [][3]int
	seen := map[[3]int]bool{}
	for len(out) < triples {
		p := rng.Perm(k)[:3]
		slices.Sort(p)
		t := [3]int{p[0], p[1], p[2]}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// strangers leaves each triple out of training (folds 1-4 of the others),
// then answers fold 0 of the known people and every photo of the three.
func (e *env) strangers() error {
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	fold := e.foldOf()
	var genuine, impostor, far, frr []float64
	var op eval.DETPoint
	fmt.Printf("strangers: variant %s, norm %s, target FRR %.3f, %d triples (seed %d)\n", e.variant, normFlag, e.frr, triples, e.seed)
	fmt.Println("left out                                          strangers unknown  known refused  known wrong")
	for _, tr := range pickTriples(len(e.data.Classes), e.seed) {
		label := make([]int, len(photos))
		var classes []string
		newIdx := map[int]int{}
		for c, name := range e.data.Classes {
			if c != tr[0] && c != tr[1] && c != tr[2] {
				newIdx[c] = len(classes)
				classes = append(classes, name)
			}
		}
		for i, s := range e.data.Samples {
			label[i] = -1
			if j, ok := newIdx[s.Class]; ok {
				label[i] = j
			}
		}
		d, err := e.fitOn(photos, func(i int) bool { return fold[i] != 0 }, label, classes)
		if err != nil {
			return err
		}
		var known tally
		var strangers, named int
		for i, p := range photos {
			desc := e.testFace(d, p.Faces)
			a, score, ok := answer(d, desc)
			if label[i] < 0 {
				strangers++
				impostor = append(impostor, score)
				if ok && a.Class != eval.Unknown {
					named++
				}
				continue
			}
			if fold[i] == 0 {
				known.add(d, desc, label[i])
				genuine = append(genuine, score)
			}
		}
		names := fmt.Sprintf("%s, %s, %s", e.data.Classes[tr[0]], e.data.Classes[tr[1]], e.data.Classes[tr[2]])
		su := 100 * float64(strangers-named) / float64(strangers)
		fmt.Printf("%-48s  %7.2f%% of %3d  %11.2f%%  %10.2f%%\n", names, su, strangers, known.pct(known.unknown), known.pct(known.wrong))
		far, frr = append(far, float64(named)/float64(strangers)), append(frr, float64(known.unknown)/float64(known.n))
	}
	op.FAR, _ = eval.MeanSpread(far)
	op.FRR, _ = eval.MeanSpread(frr)
	_, farSD := eval.MeanSpread(far)
	_, frrSD := eval.MeanSpread(frr)
	fmt.Printf("mean: strangers unknown %.2f%% (sd %.2f), known refused %.2f%% (sd %.2f)\n", 100*(1-op.FAR), 100*farSD, 100*op.FRR, 100*frrSD)
	pts := eval.DET(genuine, impostor)
	for _, want := range []float64{0.01, 0.005} {
		best := eval.DETPoint{FAR: math.Inf(1)}
		for _, p := range pts {
			if p.FRR <= want && p.FAR < best.FAR {
				best = p
			}
		}
		fmt.Printf("pooled sweep: known refused <= %.1f%% at distance/limit %.3f names %.2f%% of strangers (refuses %.2f%% known)\n",
			100*want, best.Threshold, 100*best.FAR, 100*best.FRR)
	}
	name := e.variant
	if normFlag != "none" {
		name += "-" + normFlag
	}
	if len(augNames) > 0 {
		name += "-aug" + strconv.Itoa(len(augNames)) + "-" + augCal + "-" + strconv.FormatFloat(e.frr, 'g', -1, 64)
	}
	path := filepath.Join(e.out, "det-"+name+".png")
	title := fmt.Sprintf("Strangers: %d left-out triples of celebrity17", triples)
	if err := report.DET(pts, op, title, path); err != nil {
		return err
	}
	fmt.Println("DET curve:", path)
	return nil
}
