package nn

import "testing"

// TestWinogradRowKernelsTakeGroups checks that the gather-free row kernels
// do take groups on wgRowShapes, so that TestWinogradTilesSIMDMatchGo
// holds them to the Go transforms rather than the gather kernels alone.
func TestWinogradRowKernelsTakeGroups(t *testing.T) {
	for _, c := range wgRowShapes {
		g := newWgGeom(c.n, c.cin, c.cout, c.h, c.w, c.pad)
		var tab wgRowTab
		var offs [8]int
		ts := make([]wgTile, g.tiles())
		wgTileList(g, 0, ts)
		in, grad := 0, 0
		for j := 0; j+8 <= len(ts); j += 8 {
			if wgRowLanes(&offs, &tab, ts[j:j+8], wgA, g.h, g.w, g.pad, g.cin, g.n*g.cin*g.h*g.w) {
				in++
			}
			if wgRowLanes(&offs, &tab, ts[j:j+8], wgM, g.ho, g.wo, 0, g.cout, g.n*g.cout*g.ho*g.wo) {
				grad++
			}
		}
		if in == 0 || grad == 0 {
			t.Errorf("%+v: the row kernels take %d input and %d gradient groups of %d, want some of each", c, in, grad, len(ts)/8)
		}
	}
}
