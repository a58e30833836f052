package faces

import (
	"fmt"
	"testing"
)

// TestNetInputLargeMatchesPaddedResize is TestNetInputMatchesPaddedResize
// at the sizes the nets use, where NetInput splits rows across workers and
// takes its unchecked path for columns inside the image: photo-sized
// inputs to the detector (padding at the bottom or right), face crops for
// the landmark and recognition nets (centred padding), a copy without
// resize, and images so thin that no column has both taps inside.
func TestNetInputLargeMatchesPaddedResize(t *testing.T) {
	mean := [3]float32{117.001, 114.697, 97.404}
	for _, c := range []struct {
		w, h, size int
		center     bool
	}{
		{1920, 1367, 416, false}, {474, 569, 608, false}, {569, 474, 320, false},
		{312, 255, 112, true}, {255, 312, 112, true}, {120, 150, 150, true}, {151, 149, 150, true},
		{416, 300, 416, false}, {300, 416, 416, true},
		{1, 500, 64, true}, {500, 2, 64, false}, {2, 2, 96, true},
	} {
		t.Run(fmt.Sprintf("%dx%d->%d,center=%v", c.w, c.h, c.size, c.center), func(t *testing.T) {
			m := NewImage(c.w, c.h)
			for i := range m.Pix {
				m.Pix[i] = float32((i*37+i/3*11)%256) + 0.25*float32(i%4)
			}
			got := m.NetInput(nil, c.size, c.center, mean, 255)
			want := naiveNetInput(m, c.size, c.center, mean, 255)
			if len(got.Data) != len(want) {
				t.Fatalf("%d values, want %d", len(got.Data), len(want))
			}
			for i := range want {
				if got.Data[i] != want[i] {
					t.Fatalf("element %d (channel %d, row %d, column %d) = %v, want %v", i,
						i/(c.size*c.size), i/c.size%c.size, i%c.size, got.Data[i], want[i])
				}
			}
		})
	}
}

// BenchmarkNetInput prepares the detector's 416 input from a 1920x1367
// photo and the recognizer's 150 input from a face crop.
func BenchmarkNetInput(b *testing.B) {
	for _, c := range []struct {
		w, h, size int
		center     bool
	}{{1920, 1367, 416, false}, {474, 569, 416, false}, {160, 170, 150, true}} {
		b.Run(fmt.Sprintf("%dx%d->%d", c.w, c.h, c.size), func(b *testing.B) {
			m := NewImage(c.w, c.h)
			for i := range m.Pix {
				m.Pix[i] = float32(i % 251)
			}
			out := m.NetInput(nil, c.size, c.center, detMean, 255)
			cpu0 := cpuTime()
			for b.Loop() {
				out = m.NetInput(out, c.size, c.center, detMean, 255)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
