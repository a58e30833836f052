package faces

import (
	"os"
	"testing"
)

// BenchmarkArcDescriber times one chip (112x112, FaceRes 224x224) through each installed
// descriptor graph net (batch 1, as the pipeline would run it per face).
func BenchmarkArcDescriber(b *testing.B) {
	dir := modelDirOrSkip(b)
	for _, name := range []string{MobileFaceNet, MobileFace, FaceRes} {
		b.Run(name, func(b *testing.B) {
			if _, err := os.Stat(GraphModelPath(dir, name)); err != nil {
				b.Skipf("skipping: the descriptor nets are not installed (run `starid models fetch`): %v", err)
			}
			d, err := LoadArcDescriber(dir, name)
			if err != nil {
				b.Fatal(err)
			}
			chip := goldenPattern(d.Template.Size)
			if _, err := d.DescribeChip(chip); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := d.DescribeChip(chip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
