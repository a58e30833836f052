package faces

import (
	"fmt"
	"testing"
	"time"

	"starid/internal/testkit"
)

// benchRecognizer is the real recognizer when the weights are fetched, else
// one with random weights of the same shapes (the arithmetic is the same;
// the reported name says which).
func benchRecognizer(b *testing.B) *Recognizer {
	b.Helper()
	if dir, err := ModelDir(); err == nil {
		r, err := LoadRecognizer(dir)
		if err != nil {
			b.Fatal(err)
		}
		return r
	}
	b.Log("face-api weights missing: timing random weights")
	r, err := NewRecognizer(fakeRecognizerWeights(1))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkDescribe times one Describe of a 120x150 face crop: input
// preparation and the net at batch 1. Profile with
//
//	go test -run '^$' -bench 'Describe$' -cpuprofile cpu.out ./internal/faces/
func BenchmarkDescribe(b *testing.B) {
	r := benchRecognizer(b)
	face := recRandomImage(120, 150, 1)
	if _, err := r.Describe(face); err != nil { // builds the net
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := r.Describe(face); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecognizerForward times Forward on prepared inputs of several
// batch sizes and reports the time per face, the CPU time per face and the
// GFLOP/s. When other jobs share the machine, wall times swing by 2x; run
// it beside tensor's BenchmarkGemm, or under a real-time priority
// (chrt -f 10 on the compiled test binary), and compare the GFLOP/s.
func BenchmarkRecognizerForward(b *testing.B) {
	r := benchRecognizer(b)
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			x := recRandomInput(n, 2)
			if _, err := r.Forward(x); err != nil {
				b.Fatal(err)
			}
			cpu0 := testkit.CPUSeconds()
			for b.Loop() {
				if _, err := r.Forward(x); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n)/1e6, "ms/face")
			b.ReportMetric((testkit.CPUSeconds()-cpu0)*1e3/float64(b.N*n), "cpu-ms/face")
			b.ReportMetric(recFLOPs()*float64(b.N*n)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// recFLOPs counts the multiply-adds (times 2) of the net's convolutions and
// fc for one face, so that its GFLOP/s can be set against
// tensor.BenchmarkGemm's measured at the same time: on a shared machine the
// ratio means more than either number.
func recFLOPs() float64 {
	const s0 = (RecognizerInputSize-recStemKernel)/2 + 1 // 72
	f := 2.0 * recStemChannels * 3 * recStemKernel * recStemKernel * s0 * s0
	s := (s0-3)/2 + 1 // after the max pool: 35
	for _, b := range recBlocks {
		so := s
		if b.down {
			so = (s-3)/2 + 1
		}
		f += 2 * float64(b.out*so*so*9) * float64(b.in+b.out)
		if b.down {
			s /= 2
		}
	}
	return f + 2*recFeatures*DescriptorSize
}

// BenchmarkRecognizerLayers times the stem and each block separately at
// batch 1 and 16 (ms per face), to see where the time goes and whether the
// small late maps are dominated by per-call overhead rather than
// arithmetic.
func BenchmarkRecognizerLayers(b *testing.B) {
	r := benchRecognizer(b)
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			net := r.newNet()
			x := recRandomInput(n, 3)
			stages := len(net.blocks) + 1
			spent := make([]time.Duration, stages)
			for b.Loop() {
				t0 := time.Now()
				h, err := net.stem.Forward(x)
				if err == nil {
					h, err = net.relu.Forward(h)
				}
				if err == nil {
					h, err = net.maxPool.Forward(h)
				}
				if err != nil {
					b.Fatal(err)
				}
				spent[0] += time.Since(t0)
				for i := range net.blocks {
					t0 = time.Now()
					if h, err = net.blocks[i].forward(net.relu, h); err != nil {
						b.Fatal(err)
					}
					spent[i+1] += time.Since(t0)
				}
			}
			perFace := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*n) / 1e6 }
			b.ReportMetric(perFace(spent[0]), "stem-ms/face")
			for i, blk := range net.blocks {
				b.ReportMetric(perFace(spent[i+1]), blk.spec.name+"-ms/face")
			}
		})
	}
}
