package nn

import (
	"math"

	"starid/internal/cpu"
)

// The AVX2 tile transforms (winograd_amd64.s). Each takes eight tiles, one
// per vector lane, and runs over every channel; the Go side describes the
// lanes once per group of eight:
//
//   - wgInput8AVX2 reads the 6x6 window at position p of lane l from
//     x[c*hw + idx[p][l]] when mask[p][l] is -1 (0 gives the padding's
//     zero) and writes element e of channel c's lanes to
//     v[e*es + c*vstep : +8], for the n channels.
//   - wgGrad8AVX2 does the same for the 4x4 output-gradient tiles (16
//     positions).
//   - wgOutput8AVX2 reads element e of channel o's lanes at
//     m[e*es + o*mstep : +8] and writes row r of lane l's 4x4 tile, plus
//     bias[o*bstep], at byte offset offs[l] + 4*(o*ohw + r*wo) of out.
//
// tmp is the kernels' spill space for the half-transformed tile.

//go:noescape
func wgInput8AVX2(x *float32, idx, mask *[36][8]int32, n, hw int, v *float32, vstep, es int, tmp *[36][8]float32)

//go:noescape
func wgGrad8AVX2(x *float32, idx, mask *[16][8]int32, n, hw int, v *float32, vstep, es int, tmp *[36][8]float32)

//go:noescape
func wgOutput8AVX2(m *float32, es, mstep, cout int, out *float32, ohw int, offs *[8]int, wo int, bias *float32, bstep int, tmp *[24][8]float32)

// The row kernels read the tiles without gathers: for each window row
// they load every lane's values whole (two overlapping 4-value halves for
// the input's six, one for the gradient's four) and transpose them into
// one vector per column, then clear the lanes the mask puts outside the
// plane. A gather of eight values cost several times the loads and
// shuffles that replace it (the input transform was 11.5% of a training
// step, nearly all of it in its 36 gathers per eight tiles and channel).
// They run on groups whose rows all lie inside the tensor (wgRowLanes);
// the gather kernels take the others.
//
//   - wgInput8Rows reads row r of lane l's 6x6 window at byte offset
//     offs[l] + 4*(c*hw + r*w) of x and writes element e of channel c's
//     lanes to v[e*es + c*vstep : +8].
//   - wgGrad8Rows does the same for the 4x4 output-gradient tiles.

// wgRowTab is the row kernels' lane masks, mask[r*6+k][l] = -1 where
// position (r, k) of lane l's window lies in the plane, and their scratch
// for the half-transformed tiles.
type wgRowTab struct {
	mask [36][8]int32
	tmp  [36][8]float32
}

//go:noescape
func wgInput8Rows(x *float32, offs *[8]int, tab *wgRowTab, n, hw, w int, v *float32, vstep, es int)

//go:noescape
func wgGrad8Rows(x *float32, offs *[8]int, tab *wgRowTab, n, hw, w int, v *float32, vstep, es int)

// wgRowLanes fills the row kernels' tables for 8 tiles whose side x side
// windows start at (t.y-pad, t.x-pad) of planes h x w, chans planes per
// image, in a tensor of n values. It returns false when some lane's rows
// would reach outside the tensor in some channel (a padded window at the
// very start or end): the kernels read whole rows, masking only after
// the load, so the gather kernels must take that group.
func wgRowLanes(offs *[8]int, tab *wgRowTab, ts []wgTile, side, h, w, pad, chans, n int) bool {
	hw := h * w
	for l, t := range ts {
		y0, x0 := t.y-pad, t.x-pad
		base := t.img*chans*hw + y0*w + x0
		if base < 0 || base+(chans-1)*hw+(side-1)*w+side > n {
			return false
		}
		offs[l] = 4 * base
		for r := 0; r < side; r++ {
			rowIn := y0+r >= 0 && y0+r < h
			for k := 0; k < side; k++ {
				tab.mask[r*6+k][l] = 0
				if rowIn && x0+k >= 0 && x0+k < w {
					tab.mask[r*6+k][l] = -1
				}
			}
		}
	}
	return true
}

// wgZeroBias is the bias the output kernel adds when the layer has none.
var wgZeroBias float32

// wgVector says whether the kernels may run on a tensor of n values: on
// AVX2 with FMA, and with every index within the gathers' int32.
func wgVector(n int) bool { return n <= math.MaxInt32 && cpu.HasAVX2FMA() }

// wgLanes fills the gather tables of 8 tiles whose side x side windows
// start at (t.y-pad, t.x-pad) of planes h x w, images imgSize values
// apart: positions outside the plane are masked off.
func wgLanes(idx, mask [][8]int32, ts []wgTile, side, h, w, pad, imgSize int) {
	for l, t := range ts {
		y0, x0 := t.y-pad, t.x-pad
		base := t.img*imgSize + y0*w + x0
		for r := 0; r < side; r++ {
			rowIn := y0+r >= 0 && y0+r < h
			for k := 0; k < side; k++ {
				p := r*side + k
				if rowIn && x0+k >= 0 && x0+k < w {
					idx[p][l], mask[p][l] = int32(base+r*w+k), -1
				} else {
					idx[p][l], mask[p][l] = 0, 0
				}
			}
		}
	}
}

// wgInputVector runs wgInputTiles' kernel on the longest multiple-of-8
// prefix of ts and returns its length (0 when the kernel may not run).
func wgInputVector(g wgGeom, x []float32, ts []wgTile, v []float32) int {
	n := len(ts) &^ 7
	if n == 0 || !wgVector(len(x)) {
		return 0
	}
	tb, stride := len(ts), wgSpan(g.cin*len(ts))
	_ = v[35*stride+(g.cin-1)*tb+n-1] // the kernel's last store
	var tab wgRowTab
	var offs [8]int
	var idx [36][8]int32
	for j := 0; j < n; j += 8 {
		if wgRowLanes(&offs, &tab, ts[j:j+8], wgA, g.h, g.w, g.pad, g.cin, len(x)) {
			wgInput8Rows(&x[0], &offs, &tab, g.cin, g.h*g.w, g.w, &v[j], tb, stride)
			continue
		}
		wgLanes(idx[:], tab.mask[:], ts[j:j+8], wgA, g.h, g.w, g.pad, g.cin*g.h*g.w)
		wgInput8AVX2(&x[0], &idx, &tab.mask, g.cin, g.h*g.w, &v[j], tb, stride, &tab.tmp)
	}
	return n
}

// wgGradVector is wgInputVector for wgGradTiles.
func wgGradVector(g wgGeom, dy []float32, ts []wgTile, z []float32) int {
	n := len(ts) &^ 7
	if n == 0 || !wgVector(len(dy)) {
		return 0
	}
	tb, stride := len(ts), wgSpan(g.cout*len(ts))
	_ = z[35*stride+(g.cout-1)*tb+n-1]
	var tab wgRowTab
	var offs [8]int
	var idx [16][8]int32
	for j := 0; j < n; j += 8 {
		if wgRowLanes(&offs, &tab, ts[j:j+8], wgM, g.ho, g.wo, 0, g.cout, len(dy)) {
			wgGrad8Rows(&dy[0], &offs, &tab, g.cout, g.ho*g.wo, g.wo, &z[j], tb, stride)
			continue
		}
		mask := (*[16][8]int32)(tab.mask[:16])
		wgLanes(idx[:], mask[:], ts[j:j+8], wgM, g.ho, g.wo, 0, g.cout*g.ho*g.wo)
		wgGrad8AVX2(&dy[0], &idx, mask, g.cout, g.ho*g.wo, &z[j], tb, stride, &tab.tmp)
	}
	return n
}

// wgOutputVector runs wgOutputTiles' kernel on every group of eight tiles
// that the planes do not crop, and wgOutputRange on the others.
func wgOutputVector(g wgGeom, m []float32, ts []wgTile, bias, out []float32) {
	n := len(ts) &^ 7
	if n == 0 || !wgVector(len(out)) {
		wgOutputRange(g, m, ts, 0, len(ts), bias, out)
		return
	}
	tb, stride, ohw := len(ts), wgSpan(g.cout*len(ts)), g.ho*g.wo
	_ = m[35*stride+(g.cout-1)*tb+n-1]
	b, bstep := &wgZeroBias, 0
	if bias != nil {
		b, bstep = &bias[0], 1
		_ = bias[g.cout-1]
	}
	var offs [8]int
	var tmp [24][8]float32
	for j := 0; j < n; j += 8 {
		whole := true
		for l, t := range ts[j : j+8] {
			whole = whole && t.y+wgM <= g.ho && t.x+wgM <= g.wo
			offs[l] = 4 * (t.img*g.cout*ohw + t.y*g.wo + t.x)
		}
		if !whole {
			wgOutputRange(g, m, ts, j, j+8, bias, out)
			continue
		}
		wgOutput8AVX2(&m[j], stride, tb, g.cout, &out[0], ohw, &offs, g.wo, b, bstep, &tmp)
	}
	wgOutputRange(g, m, ts, n, len(ts), bias, out)
}

// wgFilter8AVX2 writes G g Gᵀ of eight filters per row for rows rows:
// lane l's tap k of row a is w[a*wstep + idx[k][l]], and element e of row
// a goes to u[e*es + a*ustep + l].
//
//go:noescape
func wgFilter8AVX2(w *float32, idx *[9][8]int32, rows, wstep int, u *float32, ustep, es int, tmp *[18][8]float32)

// wgFiltersVector is wgFilters' kernel for the rows [lo, hi) and the
// columns below the last multiple of 8 of cin, which it returns (0 when
// the kernel may not run).
func wgFiltersVector(w []float32, o, i int, flip bool, u []float32, lo, hi int) int {
	cout, cin := o, i
	if flip {
		cout, cin = i, o
	}
	nb := cin &^ 7
	if nb == 0 || hi <= lo || !wgVector(len(w)) {
		return 0
	}
	span := wgSpan(cout * cin)
	_ = u[35*span+(hi-1)*cin+nb-1]
	var idx [9][8]int32
	for k := range idx {
		for l := range idx[k] {
			if flip {
				idx[k][l] = int32(l*9*i + 8 - k)
			} else {
				idx[k][l] = int32(l*9 + k)
			}
		}
	}
	// One call per row of u, eight columns at a time along it: each
	// element's row is written in order, whole cache lines one after
	// another. Calls per eight columns down the rows wrote half lines
	// 2 KB apart (512 channels) and came back for the other halves after
	// the whole column, by when they had left the cache: the transform of
	// a 512-channel layer ran at half the speed.
	var tmp [18][8]float32
	for a := lo; a < hi; a++ {
		base, wstep := a*i*9, 72
		if flip {
			base, wstep = a*9, 72*i
		}
		_ = w[base+(nb/8-1)*wstep+int(max(idx[0][7], idx[8][7]))] // the last tap read
		wgFilter8AVX2(&w[base], &idx, nb/8, wstep, &u[a*cin], 8, span, &tmp)
	}
	return nb
}

// wgFilterGrad8AVX2 adds Gᵀ u G of groups x 8 consecutive filters to dw
// (9 values each, in order): filter f's element e is du[e*es + f].
//
//go:noescape
func wgFilterGrad8AVX2(du *float32, es, groups int, dw *float32, tmp *[27][8]float32)

// wgFilterGradsVector is wgFilterGrads' kernel for the filters [lo, hi)
// of a layer with span-apart elements in du; it returns the first filter
// it left to Go (lo when the kernel may not run). In float32 where the Go
// version sums in float64: du's values are float32 sums already, and G's
// entries round once more at most.
func wgFilterGradsVector(du []float32, span, lo, hi int, dw []float32) int {
	groups := (hi - lo) / 8
	if groups == 0 || !wgVector(len(du)) {
		return lo
	}
	end := lo + 8*groups
	_ = du[35*span+end-1]
	_ = dw[9*end-1]
	var tmp [27][8]float32
	wgFilterGrad8AVX2(&du[lo], span, groups, &dw[9*lo], &tmp)
	return end
}
