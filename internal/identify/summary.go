package identify

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
)

// Summary is what a model keeps of training descriptors it does not keep
// one by one: per class, how many there were and their per-dimension mean
// and standard deviation. The built-in model carries this instead of a
// descriptor per photo (no photo of anyone can be rebuilt from it, and it
// is a few kilobytes); Enroll refits the head on descriptors drawn from
// these per-class normal distributions plus the descriptors it does keep.
type Summary struct {
	Count []int       // per class; 0 for a class with no summarized descriptors
	Mean  [][]float32 // per class
	Std   [][]float32 // per class, per dimension (population)
}

// moments are per-class sums over a model's summarized and kept
// descriptors, in float64.
type moments struct {
	n          []int
	sum, sumSq [][]float64
}

func (m *Model) moments() moments {
	k := len(m.Classes)
	mo := moments{n: make([]int, k), sum: make([][]float64, k), sumSq: make([][]float64, k)}
	for c := range k {
		mo.sum[c], mo.sumSq[c] = make([]float64, DescriptorLen), make([]float64, DescriptorLen)
	}
	if s := m.Summary; s != nil {
		for c := range min(k, len(s.Count)) {
			n := float64(s.Count[c])
			mo.n[c] += s.Count[c]
			for j := range DescriptorLen {
				mu, sd := float64(s.Mean[c][j]), float64(s.Std[c][j])
				mo.sum[c][j] += n * mu
				mo.sumSq[c][j] += n * (sd*sd + mu*mu)
			}
		}
	}
	for i, v := range m.Train {
		c := m.Labels[i]
		mo.n[c]++
		for j, e := range v {
			mo.sum[c][j] += float64(e)
			mo.sumSq[c][j] += float64(e) * float64(e)
		}
	}
	return mo
}

// means is each class's mean descriptor (zero for a class without any).
func (mo moments) means() [][]float32 {
	out := make([][]float32, len(mo.n))
	for c := range out {
		out[c] = make([]float32, DescriptorLen)
		for j := range out[c] {
			out[c][j] = float32(mo.sum[c][j] / float64(max(mo.n[c], 1)))
		}
	}
	return out
}

// Summarize folds the kept training descriptors into the summary and
// drops them, so the model no longer holds a descriptor of any photo. The
// centroids become the summary's means (the same values, up to rounding).
func (m *Model) Summarize() {
	mo := m.moments()
	s := &Summary{Count: mo.n, Mean: mo.means(), Std: make([][]float32, len(mo.n))}
	for c, n := range mo.n {
		s.Std[c] = make([]float32, DescriptorLen)
		for j := range DescriptorLen {
			if n == 0 {
				continue
			}
			mu := mo.sum[c][j] / float64(n)
			s.Std[c][j] = float32(math.Sqrt(max(mo.sumSq[c][j]/float64(n)-mu*mu, 0)))
		}
	}
	m.Summary, m.Train, m.Labels = s, nil, nil
	m.Centroids = s.Mean
}

// fitSet is what a refit trains on: the kept descriptors and, for each
// summarized class, as many descriptors drawn from its normal distribution
// as it summarizes (seeded, so a refit is reproducible).
func (m *Model) fitSet(seed uint64) ([][]float32, []int) {
	x, y := slices.Clone(m.Train), slices.Clone(m.Labels)
	s := m.Summary
	if s == nil {
		return x, y
	}
	rng := rand.New(rand.NewPCG(seed, 0x73756d)) // "sum"
	for c, n := range s.Count {
		for range n {
			v := make([]float32, DescriptorLen)
			for j := range v {
				v[j] = s.Mean[c][j] + s.Std[c][j]*float32(rng.NormFloat64())
			}
			x, y = append(x, v), append(y, c)
		}
	}
	return x, y
}

// refit trains a new head over classes on the model's descriptors plus
// add (all of class), keeping the summary: the drawn descriptors only
// stand in for the summarized ones while fitting, and the centroids are
// the exact means of summarized and kept descriptors.
func (m *Model) refit(ctx context.Context, classes []string, class int, add [][]float32, hc HeadConfig) (*Model, error) {
	x, y := m.fitSet(hc.Seed)
	for _, v := range add {
		x, y = append(x, v), append(y, class)
	}
	nm, err := Fit(ctx, classes, x, y, hc, nil)
	if err != nil || m.Summary == nil {
		return nm, err
	}
	nm.Train = append(slices.Clone(m.Train), add...)
	nm.Labels = slices.Clone(m.Labels)
	for range add {
		nm.Labels = append(nm.Labels, class)
	}
	s := &Summary{Count: slices.Clone(m.Summary.Count), Mean: slices.Clone(m.Summary.Mean), Std: slices.Clone(m.Summary.Std)}
	for len(s.Count) < len(classes) {
		s.Count = append(s.Count, 0)
		s.Mean = append(s.Mean, make([]float32, DescriptorLen))
		s.Std = append(s.Std, make([]float32, DescriptorLen))
	}
	nm.Summary = s
	nm.Centroids = nm.moments().means()
	return nm, nil
}

// count is how many training descriptors, summarized or kept, class has.
func (m *Model) count(class int) int {
	n := 0
	if s := m.Summary; s != nil && class < len(s.Count) {
		n = s.Count[class]
	}
	for _, l := range m.Labels {
		if l == class {
			n++
		}
	}
	return n
}
