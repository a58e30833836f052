package eval

import (
	"math"
	"testing"
)

func TestDET(t *testing.T) {
	genuine := []float64{0.1, 0.2, 0.3, math.Inf(1)} // the last: no face found
	impostor := []float64{0.25, 0.5}
	pts := DET(genuine, impostor)
	want := []DETPoint{
		{math.Inf(-1), 0, 1},
		{0.1, 0, 0.75},
		{0.2, 0, 0.5},
		{0.25, 0.5, 0.5},
		{0.3, 0.5, 0.25},
		{0.5, 1, 0.25},
	}
	if len(pts) != len(want) {
		t.Fatalf("got %d points %v, want %d", len(pts), pts, len(want))
	}
	for i, p := range pts {
		if p != want[i] {
			t.Errorf("point %d = %+v, want %+v", i, p, want[i])
		}
	}
}

func TestMeanSpread(t *testing.T) {
	m, sd := MeanSpread([]float64{1, 2, 3})
	if m != 2 || math.Abs(sd-1) > 1e-12 {
		t.Errorf("MeanSpread = %v, %v; want 2, 1", m, sd)
	}
	if _, sd := MeanSpread([]float64{5}); sd != 0 {
		t.Errorf("one value: spread %v, want 0", sd)
	}
}
