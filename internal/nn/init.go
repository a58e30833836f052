package nn

import (
	"math"
	"math/rand/v2"

	"starid/internal/tensor"
)

// PyTorch's default initialization of Linear and Conv2d (see their
// reset_parameters) is kaiming_uniform_ with a=sqrt(5) for the weight and
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias. With a=sqrt(5) the Kaiming
// gain sqrt(2/(1+a²)) is sqrt(1/3), and the Kaiming bound
// gain*sqrt(3/fan_in) collapses to 1/sqrt(fan_in) as well, so both tensors
// come from the same uniform distribution. The helpers here spell that out
// once so every layer draws its weights the same way.

// UniformBound is PyTorch's default bound 1/sqrt(fanIn), or 0 when fanIn is
// not positive (PyTorch leaves such tensors at zero rather than divide by 0).
func UniformBound(fanIn int) float64 {
	if fanIn <= 0 {
		return 0
	}
	return 1 / math.Sqrt(float64(fanIn))
}

// Uniform fills t with independent draws from U(lo, hi). Values are drawn in
// float64 and rounded to float32, so an extreme draw can round onto hi.
func Uniform(t *tensor.Tensor, lo, hi float64, rng *rand.Rand) {
	w := hi - lo
	for i := range t.Data {
		t.Data[i] = float32(lo + w*rng.Float64())
	}
}

// KaimingUniform fills a weight tensor whose fan-in (inputs per output unit:
// in for Linear, in*k*k for Conv2d) is fanIn the way PyTorch's layers do by
// default: kaiming_uniform_(a=sqrt(5)), which is U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
// Use KaimingUniformSlope for the textbook He initialization.
func KaimingUniform(t *tensor.Tensor, fanIn int, rng *rand.Rand) {
	KaimingUniformSlope(t, fanIn, math.Sqrt(5), rng)
}

// KaimingUniformSlope is torch.nn.init.kaiming_uniform_(t, a, mode="fan_in",
// nonlinearity="leaky_relu"): U(-b, b) with b = sqrt(6 / ((1+a²) fanIn)),
// where a is the negative slope of the following leaky ReLU. a=0 is He et
// al. (2015) for ReLU networks, b = sqrt(6/fanIn).
func KaimingUniformSlope(t *tensor.Tensor, fanIn int, a float64, rng *rand.Rand) {
	b := 0.0
	if fanIn > 0 {
		b = math.Sqrt(6 / ((1 + a*a) * float64(fanIn)))
	}
	Uniform(t, -b, b, rng)
}

// BiasUniform fills a bias the way PyTorch's Linear and Conv2d do:
// U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with the fan-in of the matching weight.
func BiasUniform(t *tensor.Tensor, fanIn int, rng *rand.Rand) {
	b := UniformBound(fanIn)
	Uniform(t, -b, b, rng)
}
