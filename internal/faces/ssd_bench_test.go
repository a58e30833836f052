//go:build unix

package faces

import "testing"

// BenchmarkSSD times one SSD Detect on sample1 (decoding excluded): the
// forward pass at 512 plus decoding and NMS.
//
//	go test -tags nodynamic -run '^$' -bench SSD ./internal/faces/
func BenchmarkSSD(b *testing.B) {
	s, dir := loadReal(b, LoadSSD)
	img := loadPhoto(b, SamplePhotos(dir)[0])
	if _, err := s.Detect(img, 0.5); err != nil { // builds the net
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := s.Detect(img, 0.5); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}
