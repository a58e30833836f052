package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

func TestInitDistributions(t *testing.T) {
	const n = 100000
	for _, c := range []struct {
		name  string
		fill  func(*tensor.Tensor, *rand.Rand)
		bound float64
	}{
		{"KaimingUniform", func(x *tensor.Tensor, r *rand.Rand) { KaimingUniform(x, 576, r) }, 1.0 / 24},
		{"KaimingUniformSlope a=0", func(x *tensor.Tensor, r *rand.Rand) { KaimingUniformSlope(x, 600, 0, r) }, 0.1},
		{"BiasUniform", func(x *tensor.Tensor, r *rand.Rand) { BiasUniform(x, 4, r) }, 0.5},
		{"Uniform", func(x *tensor.Tensor, r *rand.Rand) { Uniform(x, -3, 3, r) }, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.New(n)
			c.fill(x, rand.New(rand.NewPCG(1, 2)))
			const buckets = 10
			var hist [buckets]int
			sum, sq := 0.0, 0.0
			for _, v := range x.Data {
				f := float64(v)
				if math.Abs(f) > c.bound {
					t.Fatalf("value %g outside ±%g", f, c.bound)
				}
				hist[min(int((f+c.bound)/(2*c.bound)*buckets), buckets-1)]++
				sum += f
				sq += f * f
			}
			// Each bucket expects n/10 = 10000 with a standard deviation
			// of 95; 5% is over five deviations.
			for i, h := range hist {
				if math.Abs(float64(h)-n/buckets) > 0.05*n/buckets {
					t.Errorf("bucket %d holds %d values, want about %d", i, h, n/buckets)
				}
			}
			if mean := sum / n; math.Abs(mean) > 0.01*c.bound {
				t.Errorf("mean %g", mean)
			}
			// U(-b, b) has variance b²/3.
			if v := sq / n; math.Abs(v-c.bound*c.bound/3) > 0.02*c.bound*c.bound {
				t.Errorf("variance %g, want %g", v, c.bound*c.bound/3)
			}
		})
	}
}

func TestUniformBound(t *testing.T) {
	for _, c := range []struct {
		fanIn int
		want  float64
	}{{25088, 1 / math.Sqrt(25088)}, {1, 1}, {0, 0}, {-3, 0}} {
		if got := UniformBound(c.fanIn); got != c.want {
			t.Errorf("UniformBound(%d) = %g, want %g", c.fanIn, got, c.want)
		}
	}
	x := tensor.New(10)
	KaimingUniform(x, 0, rand.New(rand.NewPCG(1, 2)))
	for _, v := range x.Data {
		if v != 0 {
			t.Fatal("fan-in 0 must give zeros, as in PyTorch")
		}
	}
}

func TestInitIsSeeded(t *testing.T) {
	a, b := tensor.New(50), tensor.New(50)
	KaimingUniform(a, 10, rand.New(rand.NewPCG(3, 4)))
	KaimingUniform(b, 10, rand.New(rand.NewPCG(3, 4)))
	if tensor.MaxAbsDiff(a.Data, b.Data) != 0 {
		t.Error("the same rng state gave different weights")
	}
}
