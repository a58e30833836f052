package models

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"starid/internal/nn"
)

// The tutorial's parameter counts for 17 classes (reference-tutorial.md).
func TestVGGParameterCounts(t *testing.T) {
	want := map[string]int{
		"vgg16":                  134330193,
		"vgg16-bn":               134333137,
		"vgg16-bn-dropout":       134333137,
		"vgg16-bn-dropout-light": 15144145,
		// 14,714,688 conv + 2*4,224 for thirteen norms + 426,513 head.
		"vgg16-convbn-dropout-light": 15149649,
		// The same body and a 512*17+17 head.
		"vgg16-convbn-dropout-gap": 14714688 + 8448 + 8721,
	}
	for name, n := range want {
		net := buildNamed(t, name, rand.New(rand.NewPCG(1, 1)))
		total, trainable := nn.CountParams(net)
		if total != n || trainable != n {
			t.Errorf("%s: %d params (%d trainable), want %d", name, total, trainable, n)
		}
		for _, size := range []int{224, 112, 64, 32} {
			s, err := nn.Summarize(net, []int{2, 3, size, size})
			if err != nil {
				t.Fatalf("%s at %d: %v", name, size, err)
			}
			if got := s.OutputShape; len(got) != 2 || got[0] != 2 || got[1] != 17 {
				t.Errorf("%s at %d: output %v", name, size, got)
			}
		}
	}
}

// State-dict names must be PyTorch's for the reference module
// (../shared/bench/torch_reference.py), so checkpoints load there.
func TestVGGStateDictNames(t *testing.T) {
	net := buildNamed(t, "vgg16-bn-dropout-light", rand.New(rand.NewPCG(1, 1)))
	var names []string
	for _, e := range nn.StateDict(net) {
		names = append(names, e.Name)
	}
	got := strings.Join(names, " ")
	for _, want := range []string{
		"block1.0.weight block1.0.bias block1.2.weight block1.2.bias block1.4.weight block1.4.bias block1.4.running_mean block1.4.running_var block1.4.num_batches_tracked block2.0.weight",
		"block5.6.num_batches_tracked classifier.0.weight classifier.0.bias",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("state dict lacks %q; got %s", want, got)
		}
	}
	if len(names) != 13*2+5*5+2 {
		t.Errorf("%d entries, want %d", len(names), 13*2+5*5+2)
	}
}

// buildNamed builds the registry's model name with 17 classes (the
// tutorial's), initialized from rng.
func buildNamed(t testing.TB, name string, rng *rand.Rand) *nn.Sequential {
	t.Helper()
	spec, err := ByName(name, 17)
	if err != nil {
		t.Fatal(err)
	}
	net, err := Build(spec, rng)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// Half width: every convolution's channels halved and the head fed 256x7x7.
// 3,894,897 is the sum by hand: convolutions 3,680,160 (3*32*9+32 up to five
// 256->256), five batch norms 2*(32+64+128+256+256), head 256*49*17+17.
func TestVGGWidth(t *testing.T) {
	spec, err := ByNameWidth("vgg16-bn-dropout-light", 17, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	net, err := Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if total, _ := nn.CountParams(net); total != 3894897 {
		t.Errorf("half width: %d params, want 3894897", total)
	}
	if s, err := nn.Summarize(net, []int{1, 3, 64, 64}); err != nil || s.OutputShape[1] != 17 {
		t.Errorf("half width at 64: %v %v", s, err)
	}
	full, _ := ByName("vgg16", 17)
	same, _ := ByNameWidth("vgg16", 17, 1)
	if a, b := mustJSON(t, full), mustJSON(t, same); a != b {
		t.Error("width 1 differs from the tutorial's network")
	}
	for _, w := range []float64{0, -1, 2.5} {
		if _, err := ByNameWidth("vgg16", 17, w); err == nil || !strings.Contains(err.Error(), "width") {
			t.Errorf("width %v: error %v", w, err)
		}
	}
}

func mustJSON(t *testing.T, s Spec) string {
	t.Helper()
	b, err := s.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A norm sits between each convolution and its ReLU, and no block ends
// with a second one.
func TestVGGConvBNOrder(t *testing.T) {
	spec, err := ByName("vgg16-convbn-dropout-light", 17)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range spec.Layers[0].Children {
		kinds = append(kinds, l.Kind)
	}
	want := []string{KindConv2d, KindBatchNorm2d, KindReLU, KindConv2d, KindBatchNorm2d, KindReLU, KindMaxPool2d}
	if !slices.Equal(kinds, want) {
		t.Errorf("block1 is %v, want %v", kinds, want)
	}
}

func TestByNameErrors(t *testing.T) {
	if _, err := ByName("vgg19", 17); err == nil || !strings.Contains(err.Error(), "vgg16-bn") {
		t.Errorf("unknown model error should list known names, got %v", err)
	}
	if _, err := ByName("vgg16", 0); err == nil {
		t.Error("0 classes accepted")
	}
	bad := Spec{Name: "bad", Layers: []LayerSpec{{Name: "x", Kind: "conv3d"}}}
	if _, err := Build(bad, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "conv3d") {
		t.Errorf("unknown kind error: %v", err)
	}
}
