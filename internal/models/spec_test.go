package models

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBuildRefusesBadSpecs: a spec comes from model.json, which a person or
// a damaged disk may have changed; Build must answer with an error, never
// a panic or an allocation no machine has.
func TestBuildRefusesBadSpecs(t *testing.T) {
	for _, c := range []struct {
		name  string
		layer LayerSpec
		want  string
	}{
		{"conv negative padding", LayerSpec{Name: "c", Kind: KindConv2d, In: 3, Out: 4, Kernel: 3, Stride: 1, Padding: -1}, "padding must not be negative"},
		{"conv zero stride", LayerSpec{Name: "c", Kind: KindConv2d, In: 3, Out: 4, Kernel: 3}, "stride must be positive"},
		{"conv too many weights", LayerSpec{Name: "c", Kind: KindConv2d, In: 1 << 16, Out: 1 << 16, Kernel: 3, Stride: 1}, "more than the 268435456 this starid allows"},
		{"max pool padding over half the kernel", LayerSpec{Name: "p", Kind: KindMaxPool2d, Kernel: 2, Padding: 3}, "padding must be between 0 and half the kernel"},
		{"avg pool negative padding", LayerSpec{Name: "p", Kind: KindAvgPool2d, Kernel: 2, Padding: -1}, "padding must be between 0 and half the kernel"},
		{"adaptive pool output too large", LayerSpec{Name: "a", Kind: KindAdaptiveAvgPool2d, OutH: 1 << 20, OutW: 1}, "larger than this starid allows"},
		{"linear too many weights", LayerSpec{Name: "l", Kind: KindLinear, In: 2e9, Out: 2e9}, "more than the 268435456 this starid allows"},
		{"batch norm too many channels", LayerSpec{Name: "b", Kind: KindBatchNorm2d, In: 1 << 30}, "more than the 268435456 this starid allows"},
		{"dropout NaN", LayerSpec{Name: "d", Kind: KindDropout, P: math.NaN()}, "p must be in [0, 1)"},
		{"unknown kind", LayerSpec{Name: "u", Kind: "winograd"}, `unknown kind "winograd"`},
		// Three layers of 100M weights: each fits alone, not together.
		{"together too many", LayerSpec{Name: "l", Kind: KindLinear, In: 10000, Out: 10000}, "more than the 268435456 this starid allows"},
	} {
		s := Spec{Name: "edited", InChannels: 3, Classes: 2, Layers: []LayerSpec{c.layer}}
		if c.name == "together too many" {
			s.Layers = []LayerSpec{c.layer, c.layer, c.layer}
		}
		_, err := Build(s, rand.New(rand.NewPCG(1, 2)))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "model edited") {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
}
