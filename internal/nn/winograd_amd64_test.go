package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"starid/internal/cpu"
)

// TestWinogradRowKernelsMatchGo holds the gather-free row kernels to the
// Go transforms on shapes where they take most groups (several images,
// so that only windows at the tensor's very start and end fall back to
// the gathers), with padded edges, cropped tiles and groups that wrap
// from one tile row or image to the next. It first checks that the row
// kernels do take groups there, so that it cannot pass by testing the
// gather kernels alone.
func TestWinogradRowKernelsMatchGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no SIMD tile transforms on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 7))
	for _, c := range []struct{ n, cin, cout, h, w, pad, tiles int }{
		{4, 3, 5, 20, 24, 1, 40},
		{5, 2, 3, 8, 8, 1, 16},
		{3, 4, 2, 13, 17, 1, 24},
		{4, 2, 2, 12, 12, 2, 32},
		{3, 3, 3, 10, 14, 0, 16},
	} {
		g := newWgGeom(c.n, c.cin, c.cout, c.h, c.w, c.pad)
		in, grad := wgRowGroups(g)
		if in == 0 || grad == 0 {
			t.Fatalf("%+v: the row kernels take %d input and %d gradient groups of eight, want some of each", c, in, grad)
		}
		for t0 := 0; t0 < g.tiles(); t0 += c.tiles {
			t.Run(fmt.Sprintf("%+v/from%d", c, t0), func(t *testing.T) {
				ts := make([]wgTile, min(c.tiles, g.tiles()-t0))
				wgTileList(g, t0, ts)
				checkTilesSIMD(t, r, g, ts)
			})
		}
	}
}

// wgRowGroups counts the groups of eight tiles of g that the row kernels
// take, for the input and the output-gradient transforms.
func wgRowGroups(g wgGeom) (in, grad int) {
	var tab wgRowTab
	var offs [8]int
	ts := make([]wgTile, g.tiles())
	wgTileList(g, 0, ts)
	for j := 0; j+8 <= len(ts); j += 8 {
		if wgRowLanes(&offs, &tab, ts[j:j+8], wgA, g.h, g.w, g.pad, g.cin, g.n*g.cin*g.h*g.w) {
			in++
		}
		if wgRowLanes(&offs, &tab, ts[j:j+8], wgM, g.ho, g.wo, 0, g.cout, g.n*g.cout*g.ho*g.wo) {
			grad++
		}
	}
	return in, grad
}
