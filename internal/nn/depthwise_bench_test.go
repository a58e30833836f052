//go:build unix

package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// Depthwise 3x3 shapes of face-api's nets at batch 1: the tiny face
// detector at 416 (stride 1, padding 1 after each pooling), the SSD
// detector's at 512, and stride-2
// layers as TF 'SAME' padding leaves them (padded input, padding 0). Run with
//
//	go test ./internal/nn -run '^$' -bench DepthwiseConv2d -benchtime 2s
var depthwiseShapes = []struct{ c, hw, stride, pad int }{
	{16, 208, 1, 1}, {32, 104, 1, 1}, {64, 52, 1, 1}, {128, 26, 1, 1}, {256, 13, 1, 1},
	{32, 113, 2, 0}, {64, 57, 2, 0}, {128, 29, 2, 0}, {32, 112, 2, 1},
	// face-api's SSD MobileNetV1 at 512 (its stride-2 inputs padded by
	// one row and column at the end).
	{32, 256, 1, 1}, {64, 257, 2, 0}, {128, 128, 1, 1}, {128, 129, 2, 0}, {512, 32, 1, 1},
}

func BenchmarkDepthwiseConv2d(b *testing.B) {
	for _, s := range depthwiseShapes {
		r := rand.New(rand.NewPCG(1, 2))
		l := NewDepthwiseConv2d(s.c, 3, s.stride, s.pad, true, r)
		x := randTensor(r, 1, s.c, s.hw, s.hw)
		out, _ := l.OutputShape(x.Shape)
		flop := 2 * 9 * float64(tensor.Numel(out))
		name := fmt.Sprintf("%dx%d@%d/s%dp%d", s.c, s.c, s.hw, s.stride, s.pad)
		b.Run(name+"/fwd", func(b *testing.B) {
			l.SetTraining(false)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := l.Forward(x); err != nil {
					b.Fatal(err)
				}
			}
			reportFlops(b, flop*float64(b.N), cpu0)
		})
		b.Run(name+"/fwdbwd", func(b *testing.B) {
			l.SetTraining(true)
			dy := randTensor(r, out...)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := l.Forward(x); err != nil {
					b.Fatal(err)
				}
				if _, err := l.Backward(dy); err != nil {
					b.Fatal(err)
				}
			}
			reportFlops(b, 3*flop*float64(b.N), cpu0)
		})
	}
}
