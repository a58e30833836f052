package knn

import (
	"math/rand/v2"
	"slices"

	"starid/internal/tensor"
)

// cellsFrom is the row count from which SelfPairs tries cells: below it
// all pairs cost little (a variable so that tests reach the cell path).
var cellsFrom = 20_000

// cellRadius bounds how far a row may lie from its cell's leader, in
// units of the pair radius: a face and the faces of the same person are
// within about one grouping radius of each other.
const cellRadius = 1.0

// cells splits the rows among leaders: every row lies within radius[c] of
// the leader of its cell c, and radius[c] <= cellRadius x the pair radius.
type cells struct {
	leader  []int   // row of each cell's leader
	members [][]int // rows of each cell
	radius  []float32
}

// selfPairsCells is SelfPairs by the triangle inequality: rows x and y
// within r of each other, with y in cell c, have d(x, leader c) <=
// radius[c] + r, so x is compared only with the members of the cells
// whose leaders it is that close to. Exact, like selfPairsAll. On face
// descriptors of many people, leaders are a few faces per person and
// each face meets one or two cells; on rows without clusters the cells
// prune nothing, which it notices early (ok false) to let the caller
// take the plain path.
func (m *Matrix) selfPairsCells(r float32) ([][]Hit, bool) {
	cs, ok := m.makeCells(r * cellRadius)
	if !ok {
		return nil, false
	}
	cand, ok := m.candidates(cs, r)
	if !ok {
		return nil, false
	}
	found := make([][]edge, tensor.Workers())
	tensor.ForEach(len(cs.leader), func(w, c int) {
		if len(cand[c]) == 0 {
			return
		}
		q, mem := m.Subset(cand[c]), m.Subset(cs.members[c])
		mem.scan(q, 0, q.Len(), 0, r, func(i, j int, d float32) {
			if x, y := cand[c][i], cs.members[c][j]; x < y {
				found[w] = append(found[w], edge{int32(x), int32(y), d})
			}
		})
	})
	return hitsOf(m.Len(), found), true
}

// makeCells picks leaders in rounds: a random fortieth of the rows not
// yet within R of a leader lead, the others join their nearest new leader
// within R. Each round costs pending rows x new leaders, and every leader
// costs all rows once more in candidates: few leaders a round (most
// people of 20 faces or more get one, the rest get theirs in the next
// rounds) measured cheaper than a twentieth, which gives many people
// several. It gives up (ok false) once leaders pass a quarter of the
// rows: the rows do not cluster at this radius.
func (m *Matrix) makeCells(R float32) (cells, bool) {
	n := m.Len()
	var cs cells
	cellOf := make([]int32, n)
	dist := make([]float32, n)
	pending := make([]int, n)
	for i := range pending {
		pending[i] = i
	}
	rng := rand.New(rand.NewPCG(1, 2)) // reproducible cells
	for len(pending) > 0 {
		if len(cs.leader) > n/4 {
			return cs, false
		}
		k := max(len(pending)/40, min(len(pending), 64))
		rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
		base := len(cs.leader)
		for i, row := range pending[:k] {
			cs.leader = append(cs.leader, row)
			cellOf[row], dist[row] = int32(base+i), 0
		}
		rest := pending[k:]
		hits := m.Subset(pending[:k]).Within(m.Subset(rest), R)
		var next []int
		for i, hs := range hits {
			if len(hs) == 0 {
				next = append(next, rest[i])
				continue
			}
			best := slices.MinFunc(hs, byDistance)
			cellOf[rest[i]], dist[rest[i]] = int32(base+best.Row), best.Distance
		}
		pending = next
	}
	cs.members = make([][]int, len(cs.leader))
	cs.radius = make([]float32, len(cs.leader))
	for row, c := range cellOf {
		cs.members[c] = append(cs.members[c], row)
		cs.radius[c] = max(cs.radius[c], dist[row])
	}
	return cs, true
}

// candidates lists, per cell, the rows that may have a neighbour within r
// in it. It gives up (ok false) when the pairs to compare would pass a
// quarter of all pairs: cells that prune so little cost more than they
// save.
func (m *Matrix) candidates(cs cells, r float32) ([][]int, bool) {
	leaders := m.Subset(cs.leader)
	var maxR float32
	for _, x := range cs.radius {
		maxR = max(maxR, x)
	}
	// Distances come from |a|²+|b|²-2a·b in float32: a margin keeps a
	// rounding error from dropping a pair at the edge.
	const slack = 1e-2
	cand := make([][]int, len(cs.leader))
	work, limit := 0, m.Len()*m.Len()/4
	const chunk = 1024
	for lo := 0; lo < m.Len(); lo += chunk {
		hi := min(lo+chunk, m.Len())
		rows := make([]int, hi-lo)
		for i := range rows {
			rows[i] = lo + i
		}
		for i, hs := range leaders.Within(m.Subset(rows), maxR+r+slack) {
			for _, h := range hs {
				if h.Distance <= cs.radius[h.Row]+r+slack {
					cand[h.Row] = append(cand[h.Row], lo+i)
					work += len(cs.members[h.Row])
				}
			}
		}
		if work > limit {
			return nil, false
		}
	}
	return cand, true
}
