package cluster

import (
	"testing"
)

// graph builds an undirected graph from pairs, weight 1.
func graph(n int, pairs ...[2]int32) [][]Edge {
	adj := make([][]Edge, n)
	for _, p := range pairs {
		adj[p[0]] = append(adj[p[0]], Edge{To: p[1], Weight: 1})
		adj[p[1]] = append(adj[p[1]], Edge{To: p[0], Weight: 1})
	}
	return adj
}

func ownLabels(n int) []int64 {
	l := make([]int64, n)
	for i := range l {
		l[i] = int64(-i - 1)
	}
	return l
}

func TestTwoCliquesAndASingleton(t *testing.T) {
	// 0-1-2-3 fully linked, 4-5-6 fully linked, 7 alone.
	adj := graph(8, [2]int32{0, 1}, [2]int32{0, 2}, [2]int32{0, 3}, [2]int32{1, 2}, [2]int32{1, 3}, [2]int32{2, 3},
		[2]int32{4, 5}, [2]int32{4, 6}, [2]int32{5, 6})
	l := ChineseWhispers(adj, ownLabels(8), nil, 1)
	for _, g := range [][]int{{0, 1, 2, 3}, {4, 5, 6}} {
		for _, i := range g[1:] {
			if l[i] != l[g[0]] {
				t.Fatalf("labels %v split group %v", l, g)
			}
		}
	}
	if l[0] == l[4] || l[7] == l[0] || l[7] == l[4] {
		t.Fatalf("labels %v join separate groups", l)
	}
}

func TestFrozenLabelsStayAndPull(t *testing.T) {
	// A chain 0-1-2-3-4: node 0 is frozen as 100 and node 4 as 200. The
	// free nodes side with their frozen end; the frozen nodes never move.
	adj := graph(5, [2]int32{0, 1}, [2]int32{1, 2}, [2]int32{2, 3}, [2]int32{3, 4})
	l := ownLabels(5)
	l[0], l[4] = 100, 200
	frozen := []bool{true, false, false, false, true}
	l = ChineseWhispers(adj, l, frozen, 7)
	if l[0] != 100 || l[4] != 200 {
		t.Fatalf("frozen labels moved: %v", l)
	}
	if l[1] != 100 || l[3] != 200 {
		t.Fatalf("free neighbours of frozen nodes: %v", l)
	}
	if l[2] != 100 && l[2] != 200 {
		t.Fatalf("middle node kept a label of its own: %v", l)
	}
}

func TestReproducible(t *testing.T) {
	adj := graph(6, [2]int32{0, 1}, [2]int32{1, 2}, [2]int32{2, 3}, [2]int32{3, 4}, [2]int32{4, 5}, [2]int32{5, 0})
	a := ChineseWhispers(adj, ownLabels(6), nil, 3)
	b := ChineseWhispers(adj, ownLabels(6), nil, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different labels: %v %v", a, b)
		}
	}
}
