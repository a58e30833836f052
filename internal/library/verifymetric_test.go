package library

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"starid/internal/library/knn"
)

// noisyPeople makes n photos of each of people people: a random centre
// plus noise that is large along the first axes (as pose moves a
// descriptor) and small along the rest.
func noisyPeople(people, n int, seed uint64) ([][]float32, []string) {
	r := rand.New(rand.NewPCG(seed, 1))
	var ds [][]float32
	var ls []string
	for p := range people {
		c := make([]float32, DescriptorSize)
		for k := range c {
			c[k] = float32(r.NormFloat64() * 0.1)
		}
		for range n {
			d := make([]float32, DescriptorSize)
			for k := range d {
				sd := 0.02
				if k < 8 {
					sd = 0.3
				}
				d[k] = c[k] + float32(r.NormFloat64()*sd)
			}
			ds = append(ds, d)
			ls = append(ls, strconv.Itoa(p))
		}
	}
	return ds, ls
}

func TestWhiteningFullShrinkIsIdentity(t *testing.T) {
	ds, ls := noisyPeople(5, 10, 1)
	w, err := FitWhitening(ds, ls, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range w.M {
		for j, v := range row {
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(float64(v)-want) > 1e-4 {
				t.Fatalf("M[%d][%d] = %g, want %g", i, j, v, want)
			}
		}
	}
}

// On people it was not fitted on, the map must separate same from
// different pairs better than plain distance when the noise has a shape.
func TestWhiteningCarriesOverToOtherPeople(t *testing.T) {
	ds, ls := noisyPeople(10, 20, 2)
	w, err := FitWhitening(ds, ls, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	test, tl := noisyPeople(10, 20, 3)
	mapped := make([][]float32, len(test))
	for i, d := range test {
		mapped[i] = w.Apply(d)
	}
	if plain, whitened := overlap(test, tl), overlap(mapped, tl); whitened >= plain/2 {
		t.Errorf("different pairs closer than the farthest-but-5%% same pair: %.3f whitened, %.3f plain", whitened, plain)
	}
}

// overlap is the share of different pairs closer than the 95th
// percentile of same-pair distances.
func overlap(ds [][]float32, ls []string) float64 {
	var same, diff []float64
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			d := knn.Distance(ds[i], ds[j])
			if ls[i] == ls[j] {
				same = append(same, d)
			} else {
				diff = append(diff, d)
			}
		}
	}
	slices.Sort(same)
	th := same[len(same)*95/100]
	n := 0
	for _, d := range diff {
		if d < th {
			n++
		}
	}
	return float64(n) / float64(len(diff))
}

func TestFitWhiteningRefusesBadInput(t *testing.T) {
	ds, ls := noisyPeople(2, 3, 4)
	for name, f := range map[string]func() error{
		"labels":     func() error { _, err := FitWhitening(ds, ls[:1], 0.5); return err },
		"shrink":     func() error { _, err := FitWhitening(ds, ls, 1.5); return err },
		"size":       func() error { _, err := FitWhitening([][]float32{{1}, {2}}, []string{"a", "a"}, 0.5); return err },
		"singletons": func() error { _, err := FitWhitening(ds[:2], []string{"a", "b"}, 0.5); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
