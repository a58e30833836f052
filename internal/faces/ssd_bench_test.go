//go:build unix

package faces

import (
	"strings"
	"testing"

	"starid/internal/nn"
)

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

// BenchmarkSSDLayers times the SSD's forward pass at 512 on sample1 layer
// by layer (nn.LayerProfile; the predictors, outside the stages, are left
// out) and logs the table, the starting point for speeding up its layers:
//
//	go test -tags nodynamic -run '^$' -bench SSDLayers -benchtime 10x -v ./internal/faces/
func BenchmarkSSDLayers(b *testing.B) {
	s, dir := loadReal(b, LoadSSD)
	img := loadPhoto(b, SamplePhotos(dir)[0])
	n := s.newNet()
	n.in = img.NetInput(n.in, SSDSize, false, [3]float32{127.5, 127.5, 127.5}, 127.5)
	if _, err := n.forward(); err != nil { // warm-up: arenas and scratch
		b.Fatal(err)
	}
	p := &nn.LayerProfile{}
	stages := nn.NewNamedSequential([]string{"low", "high", "extra0", "extra1", "extra2", "extra3"},
		[]nn.Layer{n.low, n.high, n.extra[0], n.extra[1], n.extra[2], n.extra[3]})
	nn.SetProfile(stages, p)
	for b.Loop() {
		if _, err := n.forward(); err != nil {
			b.Fatal(err)
		}
	}
	var out strings.Builder
	if err := p.Write(&out); err != nil {
		b.Fatal(err)
	}
	b.Log("\n" + out.String())
}
