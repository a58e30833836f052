package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/cpu"
	"starid/internal/tensor"
)

// TestAdamVectorMatchesGo holds the AVX2 kernel to the pure-Go one (which
// the golden tests tie to PyTorch) bit for bit, on values from tiny to huge,
// zeros of both signs, and every combination of the optional terms.
func TestAdamVectorMatchesGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("no AVX2+FMA on this CPU: only the pure-Go kernel runs")
	}
	r := rand.New(rand.NewPCG(11, 12))
	val := func(scale float64) float32 {
		switch r.IntN(20) {
		case 0:
			return 0
		case 1:
			return float32(math.Copysign(0, -1))
		}
		return float32(r.NormFloat64() * scale * math.Exp2(float64(r.IntN(30)-15)))
	}
	for _, n := range []int{8, 64, 1000, 4099} {
		for _, cfg := range []struct {
			decoupled bool
			wd        float64
		}{{false, 0}, {false, 0.1}, {true, 0.01}, {true, 0}} {
			o := newAdam(nil, AdamConfig{LR: 1e-3, WeightDecay: cfg.wd}, cfg.decoupled)
			w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i], m[i] = val(1), val(1e-2), val(1e-3)
				v[i] = float32(math.Abs(float64(val(1e-6))))
			}
			w2, g2, m2, v2 := append([]float32(nil), w...), g, append([]float32(nil), m...), append([]float32(nil), v...)
			for step := 1; step <= 3; step++ {
				s := o.scalars(step)
				if k := adamVector(w, g, m, v, &s); k != n&^7 {
					t.Fatalf("vector kernel did %d of %d elements", k, n)
				}
				adamKernel(w[n&^7:], g[n&^7:], m[n&^7:], v[n&^7:], &s)
				adamKernel(w2, g2, m2, v2, &s)
			}
			for _, pair := range [][2][]float32{{w, w2}, {m, m2}, {v, v2}} {
				if !tensor.SameBits(pair[0], pair[1]) {
					for i := range pair[0] {
						if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
							t.Fatalf("n=%d %+v: element %d: AVX2 %v, Go %v", n, cfg, i, pair[0][i], pair[1][i])
						}
					}
				}
			}
		}
	}
}

// TestAdamGoldenWithoutVector runs the golden comparison on the pure-Go
// kernel alone, which is what non-AVX2 machines use.
func TestAdamGoldenWithoutVector(t *testing.T) {
	defer cpu.SetLevel(cpu.Generic)()
	TestGoldenPyTorch(t)
}
