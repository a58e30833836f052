package knn

import (
	"math/rand/v2"
	"slices"
	"starid/internal/cpu"
	"syscall"
	"testing"
	"time"
)

func randomMatrix(n, dim int, seed uint64) *Matrix {
	r := rand.New(rand.NewPCG(seed, 1))
	m := New(dim)
	v := make([]float32, dim)
	for range n {
		for i := range v {
			v[i] = float32(r.NormFloat64() * 0.1)
		}
		m.Add(v)
	}
	return m
}

// bruteForce is the reference: every distance, sorted.
func bruteForce(m *Matrix, q []float32) []Hit {
	var all []Hit
	for i := range m.Len() {
		all = append(all, Hit{Row: i, Distance: float32(Distance(q, m.Row(i)))})
	}
	slices.SortFunc(all, byDistance)
	return all
}

func TestSearchMatchesBruteForce(t *testing.T) {
	m := randomMatrix(3000, 128, 1) // several blocks, the last one partial
	q := randomMatrix(1, 128, 2).Row(0)
	got := m.Search(q, 10)
	want := bruteForce(m, q)[:10]
	if len(got) != 10 {
		t.Fatalf("%d hits", len(got))
	}
	for i := range got {
		if got[i].Row != want[i].Row || abs(got[i].Distance-want[i].Distance) > 1e-4 {
			t.Fatalf("hit %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if hits := m.Search(q, 5000); len(hits) != 3000 {
		t.Fatalf("k beyond the rows gave %d hits", len(hits))
	}
}

func TestPairsMatchBruteForce(t *testing.T) {
	m := randomMatrix(1500, 16, 3) // several query blocks and row blocks
	near := func(q []float32, skip int) []int {
		var rows []int
		for _, h := range bruteForce(m, q) {
			if h.Distance <= 0.3 && h.Row != skip {
				rows = append(rows, h.Row)
			}
		}
		slices.Sort(rows)
		return rows
	}
	rowsOf := func(hs []Hit) []int {
		var r []int
		for _, h := range hs {
			r = append(r, h.Row)
		}
		return r
	}
	self := m.SelfPairs(0.3)
	edges := 0
	for i := range m.Len() {
		if got, want := rowsOf(self[i]), near(m.Row(i), i); !slices.Equal(got, want) {
			t.Fatalf("SelfPairs row %d: %v, want %v", i, got, want)
		}
		edges += len(self[i])
	}
	if edges == 0 {
		t.Fatal("radius too small: no pairs at all, the test shows nothing")
	}
	q := m.Subset([]int{0, 7, 1024, 1499})
	within := m.Within(q, 0.3)
	for i := range q.Len() {
		if got, want := rowsOf(within[i]), near(q.Row(i), -1); !slices.Equal(got, want) {
			t.Fatalf("Within query %d: %v, want %v", i, got, want)
		}
	}
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestAddRejectsWrongLength(t *testing.T) {
	if err := New(128).Add(make([]float32, 127)); err == nil {
		t.Fatal("a 127-value descriptor was added")
	}
}

// clustered is n descriptors of n/size people, face-like: centres ~1.4
// apart, a person's faces ~0.4 apart.
func clustered(n, size int) *Matrix {
	r := rand.New(rand.NewPCG(7, 8))
	m := New(128)
	centre := make([]float32, 128)
	v := make([]float32, 128)
	for i := range n {
		if i%size == 0 {
			for j := range centre {
				centre[j] = float32(r.NormFloat64() * 0.09)
			}
		}
		for j := range v {
			v[j] = centre[j] + float32(r.NormFloat64()*0.025)
		}
		m.Add(v)
	}
	return m
}

func TestSearchClusteredMatchesBruteForce(t *testing.T) {
	m := clustered(5000, 20)
	for _, q := range [][]float32{m.Row(123), randomMatrix(1, 128, 9).Row(0)} {
		got, want := m.Search(q, 25), bruteForce(m, q)[:25]
		for i := range got {
			if got[i].Row != want[i].Row || abs(got[i].Distance-want[i].Distance) > 1e-4 {
				t.Fatalf("hit %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}

// BenchmarkSearchMillion is one query over one million 128-D descriptors
// (the target: at most 50 ms): "member" is a face of one of the
// 50,000 people (20 faces each), "stranger" a descriptor far from all.
func BenchmarkSearchMillion(b *testing.B) {
	m := clustered(1_000_000, 20)
	b.Run("member", func(b *testing.B) { benchSearch(b, m, m.Row(777_777)) })
	b.Run("stranger", func(b *testing.B) { benchSearch(b, m, randomMatrix(1, 128, 5).Row(0)) })
}

func benchSearch(b *testing.B, m *Matrix, q []float32) {
	cpu0 := cpuTime()
	for b.Loop() {
		m.Search(q, 20)
	}
	// The machine is shared: CPU time per query says what wall time
	// cannot when other processes hold the cores.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestDotRowsKernels checks the vector kernel against the plain loop, on
// the descriptor length and one that is no multiple of 32 (the plain
// loop's tail), and that Search answers alike on either.
func TestDotRowsKernels(t *testing.T) {
	for _, dim := range []int{128, 64, 20} {
		m := randomMatrix(37, dim, 11)
		q := randomMatrix(1, dim, 12).Row(0)
		fast, plain := make([]float32, 37), make([]float32, 37)
		dotRows(q, m.Data, fast)
		dotRowsGo(q, m.Data, plain)
		for i := range fast {
			want := float32(0)
			for j := range q {
				want += q[j] * m.Row(i)[j]
			}
			if abs(fast[i]-want) > 1e-5 || abs(plain[i]-want) > 1e-5 {
				t.Fatalf("dim %d row %d: kernel %v, Go loop %v, want %v", dim, i, fast[i], plain[i], want)
			}
		}
	}
	m := clustered(3000, 20)
	q := m.Row(42)
	got := m.Search(q, 10)
	restore := cpu.SetLevel(cpu.Generic)
	defer restore()
	want := m.Search(q, 10)
	for i := range got {
		if got[i].Row != want[i].Row || abs(got[i].Distance-want[i].Distance) > 1e-4 {
			t.Fatalf("hit %d: %+v with the CPU's kernel, %+v without", i, got[i], want[i])
		}
	}
}

// TestCellsMatchAllPairs checks the cell path of SelfPairs against every
// pair, on face-like clusters (where cells prune) and on clusters mixed
// with scattered rows.
func TestCellsMatchAllPairs(t *testing.T) {
	mixed := clustered(2400, 20)
	for _, row := range randomMatrix(300, 128, 21).Data {
		mixed.Data = append(mixed.Data, row*3)
	}
	mixed = rebuilt(mixed)
	for name, m := range map[string]*Matrix{"clusters": clustered(3000, 20), "mixed": mixed} {
		want := m.selfPairsAll(0.55)
		got, ok := m.selfPairsCells(0.55)
		if !ok {
			t.Fatalf("%s: the cells gave up on clustered rows", name)
		}
		edges := 0
		for i := range want {
			if len(got[i]) != len(want[i]) {
				t.Fatalf("%s row %d: %d neighbours, want %d", name, i, len(got[i]), len(want[i]))
			}
			for k := range want[i] {
				if got[i][k].Row != want[i][k].Row || abs(got[i][k].Distance-want[i][k].Distance) > 1e-4 {
					t.Fatalf("%s row %d: %+v, want %+v", name, i, got[i][k], want[i][k])
				}
			}
			edges += len(want[i])
		}
		if edges == 0 {
			t.Fatalf("%s: no pairs, the test shows nothing", name)
		}
	}
	old := cellsFrom
	cellsFrom = 0
	defer func() { cellsFrom = old }()
	if _, ok := randomMatrix(2000, 128, 5).selfPairsCells(1.2); ok {
		t.Fatal("cells on rows without clusters at a wide radius: expected them to give up")
	}
	if got := clustered(1000, 20).SelfPairs(0.55); len(got) != 1000 {
		t.Fatalf("SelfPairs through cells: %d rows", len(got))
	}
}

// rebuilt recomputes a matrix's norms after its Data was changed.
func rebuilt(m *Matrix) *Matrix {
	out := New(m.Dim)
	for i := 0; i < len(m.Data)/m.Dim; i++ {
		out.Add(m.Data[i*m.Dim : (i+1)*m.Dim])
	}
	return out
}
