//go:build unix

package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPointwiseBatch1 times 1x1 convolutions at batch 1 in
// evaluation, with and without a fused in-place ReLU6, on face-api's SSD
// MobileNetV1 shapes (input channels, output channels, map size); the
// first takes the direct algorithm (conv_taps.go), the others the GEMM:
//
//	go test ./internal/nn -run '^$' -bench PointwiseBatch1
func BenchmarkPointwiseBatch1(b *testing.B) {
	for _, s := range [][3]int{{32, 64, 256}, {128, 128, 128}, {256, 256, 64}, {512, 512, 32}} {
		for _, act := range []bool{false, true} {
			{
				name := fmt.Sprintf("%dto%d@%d/relu6=%v", s[0], s[1], s[2], act)
				b.Run(name, func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					layers := []Layer{NewConv2d(s[0], s[1], 1, 1, 0, true, rng)}
					if act {
						layers = append(layers, NewReLU6(true))
					}
					seq := NewSequential(layers...)
					seq.NeedInputGrad = false
					seq.SetTraining(false)
					x := randTensor(rng, 1, s[0], s[2], s[2])
					if _, err := seq.Forward(x); err != nil { // warm-up: arena and scratch
						b.Fatal(err)
					}
					cpu0 := cpuSeconds()
					for b.Loop() {
						if _, err := seq.Forward(x); err != nil {
							b.Fatal(err)
						}
					}
					reportFlops(b, 2*float64(s[0]*s[1]*s[2]*s[2])*float64(b.N), cpu0)
				})
			}
		}
	}
}
