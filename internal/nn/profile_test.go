package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestLayerProfileRecordsEachLeafLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	conv := NewConv2d(2, 4, 3, 1, 1, true, r)
	inner := NewSequential(NewReLU(false), NewFlatten())
	net := NewNamedSequential([]string{"conv", "block", "fc"}, []Layer{conv, inner, NewLinear(4*5*5, 3, true, r)})
	net.SetTraining(true)
	var p LayerProfile
	SetProfile(net, &p)
	x := randTensor(r, 2, 2, 5, 5)
	for range 2 {
		y, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := net.Backward(randTensor(r, y.Shape...)); err != nil {
			t.Fatal(err)
		}
	}
	var paths []string
	for _, row := range p.Rows {
		paths = append(paths, row.Path)
		if row.Forwards != 2 || row.Backwds != 2 {
			t.Errorf("%s: %d forwards and %d backwards recorded, want 2 each", row.Path, row.Forwards, row.Backwds)
		}
	}
	if got := strings.Join(paths, " "); got != "conv block.0 block.1 fc" {
		t.Fatalf("profiled layers %q, want conv block.0 block.1 fc", got)
	}
	if want := 2.0 * 2 * 4 * 5 * 5 * 2 * 9; p.Rows[0].FLOP != want {
		t.Errorf("conv FLOP %g, want %g", p.Rows[0].FLOP, want)
	}
	if want := 2.0 * 2 * 100 * 3; p.Rows[3].FLOP != want {
		t.Errorf("linear FLOP %g, want %g", p.Rows[3].FLOP, want)
	}
	var out strings.Builder
	if err := p.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"block.1", "Conv2d(2, 4", "GFLOP/s", "total"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("profile output lacks %q:\n%s", s, out.String())
		}
	}
	SetProfile(net, nil)
	if _, err := net.Forward(x); err != nil {
		t.Fatal(err)
	}
	if p.Rows[0].Forwards != 2 {
		t.Error("a detached profile still records")
	}
}

// TestProfiledBackwardMatches: with the profile on, a convolution's
// Backward runs its weight and input passes as two calls; the gradients
// stay bit for bit those of one call, on the im2col and Winograd paths,
// and every convolution and linear layer reports both passes.
func TestProfiledBackwardMatches(t *testing.T) {
	build := func() *Sequential {
		r := rand.New(rand.NewPCG(5, 6))
		return NewNamedSequential([]string{"c1", "r1", "c2", "bn", "r2", "flat", "fc"}, []Layer{
			NewConv2d(3, 64, 3, 1, 1, true, r), NewReLU(true), // im2col
			NewConv2d(64, 64, 3, 1, 1, true, r), NewBatchNorm2d(64), NewReLU(true), // Winograd at 8x8, batch 2
			NewFlatten(), NewLinear(64*8*8, 5, true, r)})
	}
	x := randTensor(rand.New(rand.NewPCG(1, 2)), 2, 3, 8, 8)
	plain, profiled := build(), build()
	var p LayerProfile
	SetProfile(profiled, &p)
	want, got := runNet(t, plain, x), runNet(t, profiled, x)
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("result %d [%d]: profiled %v, plain %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	for _, row := range p.Rows {
		switch row.Path {
		case "c1", "c2", "fc":
			if row.BackwardInput <= 0 || row.BackwardWeight <= 0 || row.InputFLOP != 2*row.FLOP || row.WeightFLOP != 2*row.FLOP {
				t.Errorf("%s: passes %v / %v, FLOP %g / %g for %g per pass", row.Path, row.BackwardInput,
					row.BackwardWeight, row.InputFLOP, row.WeightFLOP, row.FLOP)
			}
		case "r1", "r2":
			if !row.Fused || row.Forward != 0 {
				t.Errorf("%s: fused %v, forward time %v; want fused, no time of its own", row.Path, row.Fused, row.Forward)
			}
		}
	}
	var out strings.Builder
	if err := p.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bwd-in ms", "bwd-w ms", "ReLU(inplace=True) fused"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("profile output lacks %q:\n%s", s, out.String())
		}
	}
}
