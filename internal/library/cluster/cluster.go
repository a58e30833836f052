// Package cluster groups the nodes of a similarity graph with Chinese
// Whispers (Biemann 2006; the method dlib uses for faces): every node
// repeatedly takes the label that weighs most among its neighbours, until
// no label changes. It needs no number of groups, runs in time linear in
// the edges, and lets some nodes keep a fixed label — the faces a user
// named, merged or split — which then pull their neighbours to them.
package cluster

import (
	"math/rand/v2"
)

// Edge is a neighbour and the edge's weight (more is more alike).
type Edge struct {
	To     int32
	Weight float32
}

// MaxIterations bounds the passes; the labels settle in a handful on face
// graphs, the bound stops an oscillating pair.
const MaxIterations = 100

// ChineseWhispers labels the graph given by adj (adj[i] are i's edges,
// each edge listed from both ends). labels holds the starting labels and
// frozen the nodes whose label never changes; labels is updated in place
// and returned. The visiting order is shuffled with seed, so a run is
// reproducible.
func ChineseWhispers(adj [][]Edge, labels []int64, frozen []bool, seed uint64) []int64 {
	var order []int32
	for i := range adj {
		if frozen == nil || !frozen[i] {
			order = append(order, int32(i))
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	weight := map[int64]float32{}
	for range MaxIterations {
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		changed := 0
		for _, n := range order {
			if len(adj[n]) == 0 {
				continue
			}
			clear(weight)
			for _, e := range adj[n] {
				weight[labels[e.To]] += e.Weight
			}
			if best := heaviest(weight, labels[n]); best != labels[n] {
				labels[n] = best
				changed++
			}
		}
		if changed == 0 {
			break
		}
	}
	return labels
}

// heaviest is the label of most weight; a tie keeps the current label if
// it is among the best, else takes the largest, so that the result does
// not depend on map order and a tie between an existing person (positive
// ids in the library) and a fresh group (negative) goes to the person.
func heaviest(weight map[int64]float32, current int64) int64 {
	var top float32
	for _, w := range weight {
		top = max(top, w)
	}
	if weight[current] == top {
		return current
	}
	best, found := int64(0), false
	for l, w := range weight {
		if w == top && (!found || l > best) {
			best, found = l, true
		}
	}
	return best
}
