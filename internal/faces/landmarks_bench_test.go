package faces

import (
	"path/filepath"
	"testing"
)

// BenchmarkLandmarks is the landmark step of the pipeline on one real face
// (sample1's first, a 312x255 crop): crop, input preparation, net, mapping.
//
//	go test ./internal/faces -run '^$' -bench 'Landmark|AlignedChip' -benchmem
func BenchmarkLandmarks(b *testing.B) {
	l, dir := realLandmarker(b)
	img := loadPhoto(b, filepath.Join(dir, "demo", "sample1.jpg"))
	box := sample1Boxes[0]
	if _, err := l.Landmarks(img, box); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Landmarks(img, box); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLandmarkNet is the net alone on a prepared input (weights do not
// change the cost, so random ones serve when the real ones are missing).
func BenchmarkLandmarkNet(b *testing.B) {
	l, err := NewLandmarker(randomLandmarkWeights(9))
	if err != nil {
		b.Fatal(err)
	}
	in := goldenPattern(112).NetInput(nil, LandmarkInputSize, true, lmMean, lmDiv)
	if _, err := l.Raw(in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Raw(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAlignedChip cuts a 150x150 chip from a face about twice the
// chip's scale, so every chip pixel averages 2x2 samples (a typical case).
func BenchmarkAlignedChip(b *testing.B) {
	img := goldenPattern(1000)
	lm := templateLandmarks(Point{400, 420}, Point{520, 430}, Point{455, 560})
	out := NewImage(DefaultTemplate.Size, DefaultTemplate.Size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AlignedChip(img, lm, DefaultTemplate, out); err != nil {
			b.Fatal(err)
		}
	}
}
