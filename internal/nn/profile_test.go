package nn

import (
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
