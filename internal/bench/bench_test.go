package bench

import (
	"errors"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRunCountsStepsAndStopsOnError(t *testing.T) {
	calls := 0
	r, err := Run(2, 3, func() error { calls++; return nil })
	if err != nil || calls != 5 || r.Steps != 3 || len(r.TimesMS) != 3 || r.MinMS > r.MedianMS || r.PeakRSSMB <= 0 {
		t.Fatalf("Run: %+v, %v, calls %d", r, err, calls)
	}
	boom := errors.New("boom")
	if _, err := Run(0, 3, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("want boom, got %v", err)
	}
	if _, err := Run(0, 0, func() error { return nil }); err == nil {
		t.Fatal("zero steps accepted")
	}
}
