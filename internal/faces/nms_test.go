package faces

import (
	"math"
	"slices"
	"testing"
)

func TestNMS(t *testing.T) {
	// a and b overlap with IoU 81/119 = 0.68; c is far away; d overlaps a
	// with IoU exactly 0.4 (a 10x10 box and a 10x10 box shifted by 30/7:
	// intersection 10*(10-30/7) = 400/7, union 200-400/7 = 1000/7).
	a := Box{0, 0, 10, 10}
	b := Box{1, 1, 10, 10}
	c := Box{100, 100, 5, 5}
	d := Box{30.0 / 7, 0, 10, 10}
	det := func(box Box, s float64, size int) Detection { return Detection{Box: box, Score: s, Size: size} }
	tests := []struct {
		name string
		in   []Detection
		iou  float64
		want []Detection
	}{
		{"empty", nil, 0.4, []Detection{}},
		{"single", []Detection{det(a, 0.5, 416)}, 0.4, []Detection{det(a, 0.5, 416)}},
		{"overlap keeps the better", []Detection{det(a, 0.6, 416), det(b, 0.9, 320)}, 0.4,
			[]Detection{det(b, 0.9, 320)}},
		{"disjoint kept, best first", []Detection{det(c, 0.6, 416), det(a, 0.9, 416)}, 0.4,
			[]Detection{det(a, 0.9, 416), det(c, 0.6, 416)}},
		{"overlap below a higher threshold is kept", []Detection{det(a, 0.9, 416), det(b, 0.6, 416)}, 0.7,
			[]Detection{det(a, 0.9, 416), det(b, 0.6, 416)}},
		{"equal to threshold is kept", []Detection{det(a, 0.9, 416), det(d, 0.8, 416)}, IoU(a, d),
			[]Detection{det(a, 0.9, 416), det(d, 0.8, 416)}},
		{"tie: earlier wins", []Detection{det(b, 0.7, 320), det(a, 0.7, 416)}, 0.4,
			[]Detection{det(b, 0.7, 320)}},
		{"chain: a drops b, c survives a", []Detection{
			det(Box{0, 0, 10, 10}, 0.9, 416), det(Box{5, 0, 10, 10}, 0.8, 416), det(Box{10, 0, 10, 10}, 0.7, 416)}, 0.3,
			[]Detection{det(Box{0, 0, 10, 10}, 0.9, 416), det(Box{10, 0, 10, 10}, 0.7, 416)}},
		{"NaN score ranks last", []Detection{det(c, math.NaN(), 416), det(a, 0.1, 416)}, 0.4,
			nil /* checked below */},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := NMS(tc.in, tc.iou)
			same := func(a, b Detection) bool {
				return a.Box == b.Box && a.Size == b.Size && math.Float64bits(a.Score) == math.Float64bits(b.Score)
			}
			if !slices.EqualFunc(tc.in, in, same) {
				t.Fatalf("NMS changed its input: %v -> %v", in, tc.in)
			}
			if tc.want == nil {
				if len(got) != 2 || got[0].Score != 0.1 || !math.IsNaN(got[1].Score) {
					t.Fatalf("got %v, want the 0.1 box then the NaN one", got)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestNMSGreedyOrder(t *testing.T) {
	// Pin the IoUs the greedy-order check relies on, so that a change to IoU
	// cannot silently turn the case into a different one.
	a, b, c := Box{0, 0, 10, 10}, Box{1, 1, 10, 10}, Box{2, 2, 10, 10}
	for _, tc := range []struct {
		x, y Box
		want float64
	}{{a, b, 81.0 / 119}, {a, c, 64.0 / 136}, {b, c, 81.0 / 119}} {
		if got := IoU(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	// Greedy order matters: at threshold 0.5, a drops b (0.68) but not c
	// (0.47), and c survives because b, which would drop it, is gone.
	got := NMS([]Detection{{Box: a, Score: 0.9}, {Box: b, Score: 0.8}, {Box: c, Score: 0.7}}, 0.5)
	if len(got) != 2 || got[0].Box != a || got[1].Box != c {
		t.Fatalf("got %v, want a then c", got)
	}
}
