package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"starid/internal/cpu"
)

// TestWinogradTilesSIMDMatchGo holds the AVX2 tile transforms to the Go
// ones (cpu.SetLevel(Generic)) on shapes with padded, cropped and partial
// tiles and with tile counts around the kernels' groups of eight. FMA
// rounds differently, hence a tolerance rather than bit equality.
func TestWinogradTilesSIMDMatchGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no SIMD tile transforms on this CPU or architecture")
	}
	r := rand.New(rand.NewPCG(3, 9))
	for _, c := range append([]wgTileShape{
		{2, 3, 5, 8, 8, 1, 8},
		{2, 4, 3, 13, 11, 1, 19},
		{3, 2, 2, 9, 6, 0, 16},
		{2, 3, 4, 5, 7, 2, 9},
		{1, 5, 6, 16, 16, 1, 16},
		{4, 2, 3, 4, 4, 1, 4},
	}, wgRowShapes...) {
		g := newWgGeom(c.n, c.cin, c.cout, c.h, c.w, c.pad)
		for t0 := 0; t0 < g.tiles(); t0 += c.tiles {
			t.Run(fmt.Sprintf("%+v/from%d", c, t0), func(t *testing.T) {
				ts := make([]wgTile, min(c.tiles, g.tiles()-t0))
				wgTileList(g, t0, ts)
				checkTilesSIMD(t, r, g, ts)
			})
		}
	}
}

// wgTileShape is a layer (n images of cin planes h x w, padding pad, cout
// output channels) cut into work items of tiles tiles.
type wgTileShape struct{ n, cin, cout, h, w, pad, tiles int }

// wgRowShapes are shapes where the gather-free row kernels take most
// groups (several images, so that only windows at the tensor's very start
// and end fall back to the gathers), with padded edges, cropped tiles and
// groups that wrap from one tile row or image to the next.
var wgRowShapes = []wgTileShape{
	{4, 3, 5, 20, 24, 1, 40},
	{5, 2, 3, 8, 8, 1, 16},
	{3, 4, 2, 13, 17, 1, 24},
	{4, 2, 2, 12, 12, 2, 32},
	{3, 3, 3, 10, 14, 0, 16},
}

func checkTilesSIMD(t *testing.T, r *rand.Rand, g wgGeom, ts []wgTile) {
	x := randSlice(r, g.n*g.cin*g.h*g.w)
	dy := randSlice(r, g.n*g.cout*g.ho*g.wo)
	m := randSlice(r, wgElems*wgSpan(g.cout*len(ts)))
	bias := randSlice(r, g.cout)
	run := func(level cpu.Level) (v, z, out, outNoBias []float32) {
		defer cpu.SetLevel(level)()
		v = make([]float32, wgElems*wgSpan(g.cin*len(ts)))
		z = make([]float32, wgElems*wgSpan(g.cout*len(ts)))
		out = make([]float32, len(dy))
		outNoBias = make([]float32, len(dy))
		wgInputTiles(g, x, ts, v)
		wgGradTiles(g, dy, ts, z)
		wgOutputTiles(g, m, ts, bias, out)
		wgOutputTiles(g, m, ts, nil, outNoBias)
		return v, z, out, outNoBias
	}
	gv, gz, gout, gnb := run(cpu.Generic)
	sv, sz, sout, snb := run(cpu.AVX2)
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"input", sv, gv}, {"grad", sz, gz}, {"output", sout, gout}, {"output without bias", snb, gnb}} {
		if e := relErr(c.got, c.want); e > 1e-6 || e != e {
			t.Errorf("%s: relative error %g against Go", c.name, e)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

// TestWinogradFiltersSIMDMatchGo holds the AVX2 filter transform to the Go
// one, plain and flipped, with input-channel counts around its groups of
// eight.
func TestWinogradFiltersSIMDMatchGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no SIMD filter transform on this CPU or architecture")
	}
	r := rand.New(rand.NewPCG(4, 4))
	for _, c := range [][2]int{{3, 5}, {8, 8}, {9, 17}, {16, 7}, {64, 24}} {
		w := randSlice(r, c[0]*c[1]*9)
		for _, flip := range []bool{false, true} {
			run := func(level cpu.Level) []float32 {
				defer cpu.SetLevel(level)()
				u := make([]float32, wgElems*wgSpan(c[0]*c[1]))
				wgFilters(w, c[0], c[1], flip, u)
				return u
			}
			if e := relErr(run(cpu.AVX2), run(cpu.Generic)); e > 1e-6 || e != e {
				t.Errorf("%d->%d flip %v: relative error %g against Go", c[1], c[0], flip, e)
			}
		}
	}
}

// TestWinogradFilterGradsSIMDMatchGo holds the AVX2 filter-gradient
// transform (float32) to the Go one (float64) on filter counts around its
// groups of eight, adding to a gradient that already holds values.
func TestWinogradFilterGradsSIMDMatchGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no SIMD filter-gradient transform on this CPU or architecture")
	}
	r := rand.New(rand.NewPCG(6, 1))
	for _, c := range [][2]int{{3, 5}, {8, 1}, {9, 17}, {16, 7}, {64, 24}, {130, 64}} {
		du := randSlice(r, wgElems*wgSpan(c[0]*c[1]))
		dw0 := randSlice(r, c[0]*c[1]*9)
		run := func(level cpu.Level) []float32 {
			defer cpu.SetLevel(level)()
			dw := append([]float32(nil), dw0...)
			wgFilterGrads(du, c[0], c[1], dw)
			return dw
		}
		if e := relErr(run(cpu.AVX2), run(cpu.Generic)); e > 1e-6 || e != e {
			t.Errorf("%dx%d filters: relative error %g against Go", c[0], c[1], e)
		}
	}
}
