package nn

// The tile transforms of winograd.go: per tile and channel they are a few
// hundred additions against the GEMMs' 72 x channels multiply-adds, yet in
// plain Go they took 30-40% of a Winograd layer's time (scalar loads from
// 36 places, a branch per value at the padded edges). On AVX2 the kernels
// of winograd_amd64.s run them eight tiles at a time; the Go versions here
// serve the leftover tiles and other CPUs.

// wgMaxBlock bounds the tiles of one work item (wgTileList's array).
const wgMaxBlock = 1024

// wgTile locates one tile: the offset of its image's first plane and the
// top-left corner of its input window (output corner minus padding).
type wgTile struct{ img, y, x int }

// wgTileList fills ts with tiles t0... (len(ts) of them) of g.
func wgTileList(g wgGeom, t0 int, ts []wgTile) {
	per := g.th * g.tw
	for j := range ts {
		t := t0 + j
		img, r := t/per, t%per
		ts[j] = wgTile{img: img, y: (r / g.tw) * wgM, x: (r % g.tw) * wgM}
	}
}

// wgInputTiles writes v [36][cin][len(ts)], the transforms Bᵀ d B of the
// tiles ts of x's images (planes of g.h x g.w, zero outside): the SIMD
// kernels take what they can, eight tiles at a time, and Go the rest.
func wgInputTiles(g wgGeom, x []float32, ts []wgTile, v []float32) {
	j := wgInputVector(g, x, ts, v)
	wgInputRange(g, x, ts, j, len(ts), v)
}

// wgInputRange is wgInputTiles in Go for the tiles ts[j0:j1].
func wgInputRange(g wgGeom, x []float32, ts []wgTile, j0, j1 int, v []float32) {
	tb, hw := len(ts), g.h*g.w
	stride := wgSpan(g.cin * tb)
	var d [wgElems]float32
	for c := 0; c < g.cin; c++ {
		for j := j0; j < j1; j++ {
			t := ts[j]
			plane := x[(t.img*g.cin+c)*hw : (t.img*g.cin+c+1)*hw]
			y0, x0 := t.y-g.pad, t.x-g.pad
			o := c*tb + j
			if y0 >= 0 && x0 >= 0 && y0+wgA <= g.h && x0+wgA <= g.w {
				wgInteriorTransform(plane[y0*g.w+x0:], g.w, &d, v[o:], stride)
				continue
			}
			wgGatherEdge(plane, g.h, g.w, y0, x0, &d)
			inputTransform(&d)
			for e := range d {
				v[e*stride+o] = d[e]
			}
		}
	}
}

// wgGatherEdge copies the 6x6 window at (y0, x0) of an h x w plane into d,
// zero where it leaves the plane.
func wgGatherEdge(plane []float32, h, w, y0, x0 int, d *[wgElems]float32) {
	for r := 0; r < wgA; r++ {
		y := y0 + r
		for k := 0; k < wgA; k++ {
			xx := x0 + k
			if y < 0 || y >= h || xx < 0 || xx >= w {
				d[r*wgA+k] = 0
			} else {
				d[r*wgA+k] = plane[y*w+xx]
			}
		}
	}
}

// wgInteriorTransform writes Bᵀ d B of the 6x6 window d at the start of p
// (rows w apart) to v[0], v[stride], ... v[35*stride], reading the rows in
// place and storing each row of the result as the row pass makes it: the
// column pass runs as the rows are read, which spares copying the window
// first, and the stores need no second pass over a buffer.
func wgInteriorTransform(p []float32, w int, d *[wgElems]float32, v []float32, stride int) {
	r0, r1, r2 := p[0:6:6], p[w:w+6:w+6], p[2*w:2*w+6:2*w+6]
	r3, r4, r5 := p[3*w:3*w+6:3*w+6], p[4*w:4*w+6:4*w+6], p[5*w:5*w+6:5*w+6]
	for c := 0; c < wgA; c++ {
		d[c], d[6+c], d[12+c], d[18+c], d[24+c], d[30+c] = input1D(r0[c], r1[c], r2[c], r3[c], r4[c], r5[c])
	}
	_ = v[35*stride]
	for r := 0; r < wgA; r++ {
		t0, t1, t2, t3, t4, t5 := input1D(d[r*6], d[r*6+1], d[r*6+2], d[r*6+3], d[r*6+4], d[r*6+5])
		e := r * 6 * stride
		v[e], v[e+stride], v[e+2*stride], v[e+3*stride], v[e+4*stride], v[e+5*stride] = t0, t1, t2, t3, t4, t5
	}
}

// inputTransform replaces the 6x6 d by Bᵀ d B.
func inputTransform(d *[wgElems]float32) {
	for c := 0; c < wgA; c++ {
		d[c], d[6+c], d[12+c], d[18+c], d[24+c], d[30+c] =
			input1D(d[c], d[6+c], d[12+c], d[18+c], d[24+c], d[30+c])
	}
	for r := 0; r < wgA*wgA; r += wgA {
		d[r], d[r+1], d[r+2], d[r+3], d[r+4], d[r+5] =
			input1D(d[r], d[r+1], d[r+2], d[r+3], d[r+4], d[r+5])
	}
}

// input1D is Bᵀ d for one column d.
func input1D(d0, d1, d2, d3, d4, d5 float32) (t0, t1, t2, t3, t4, t5 float32) {
	a, b := 4*d4-d2, 4*d3-d1
	p, q := d1-d3, 2*(d2-d4)
	return d0 - 5*d2 + 4*d4, a + b, a - b, p + q, q - p, d1 - 5*d3 + 4*d5
}

// wgOutputTiles writes the tiles ts of out (planes of g.ho x g.wo) from
// m [36][cout][len(ts)]: Aᵀ m A plus the bias (nil for none), cropped at
// the planes' right and bottom edges. The SIMD kernels take whole groups
// of eight uncropped tiles, Go the rest.
func wgOutputTiles(g wgGeom, m []float32, ts []wgTile, bias []float32, out []float32) {
	wgOutputVector(g, m, ts, bias, out)
}

// wgOutputRange is wgOutputTiles in Go for the tiles ts[j0:j1].
func wgOutputRange(g wgGeom, m []float32, ts []wgTile, j0, j1 int, bias []float32, out []float32) {
	tb, ohw := len(ts), g.ho*g.wo
	stride := wgSpan(g.cout * tb)
	for o := 0; o < g.cout; o++ {
		b := float32(0)
		if bias != nil {
			b = bias[o]
		}
		for j := j0; j < j1; j++ {
			t := ts[j]
			y := outputTransform(m[o*tb+j:], stride)
			plane := out[(t.img*g.cout+o)*ohw : (t.img*g.cout+o+1)*ohw]
			rows, cols := min(wgM, g.ho-t.y), min(wgM, g.wo-t.x)
			for r := 0; r < rows; r++ {
				dst := plane[(t.y+r)*g.wo+t.x:]
				for k := 0; k < cols; k++ {
					dst[k] = y[r*wgM+k] + b
				}
			}
		}
	}
}

// outputTransform returns Aᵀ m A (4x4, row-major) of the 6x6 m whose
// elements are m[0], m[stride], ... m[35*stride], read straight into the
// column pass (gathering them into an array first cost a third more).
func outputTransform(m []float32, stride int) [16]float32 {
	_ = m[35*stride]
	var h [24]float32 // Aᵀ m: 4x6
	for c := 0; c < wgA; c++ {
		e := c * stride
		h[c], h[6+c], h[12+c], h[18+c] = output1D(m[e], m[e+6*stride], m[e+12*stride], m[e+18*stride], m[e+24*stride], m[e+30*stride])
	}
	var y [16]float32
	for r := 0; r < wgM; r++ {
		y[r*4], y[r*4+1], y[r*4+2], y[r*4+3] = output1D(h[r*6], h[r*6+1], h[r*6+2], h[r*6+3], h[r*6+4], h[r*6+5])
	}
	return y
}

// output1D is Aᵀ m for one column m.
func output1D(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	s12, d12, s34, d34 := m1+m2, m1-m2, m3+m4, m3-m4
	return m0 + s12 + s34, d12 + 0.5*d34, s12 + 0.25*s34, d12 + 0.125*d34 + m5
}

// wgGradTiles writes z [36][cout][len(ts)], the transforms A dy Aᵀ of the
// output-gradient tiles ts of dy (planes of g.ho x g.wo, zero beyond):
// the SIMD kernels take eight tiles at a time, Go the rest.
func wgGradTiles(g wgGeom, dy []float32, ts []wgTile, z []float32) {
	j := wgGradVector(g, dy, ts, z)
	wgGradRange(g, dy, ts, j, len(ts), z)
}

// wgGradRange is wgGradTiles in Go for the tiles ts[j0:j1].
func wgGradRange(g wgGeom, dy []float32, ts []wgTile, j0, j1 int, z []float32) {
	tb, ohw := len(ts), g.ho*g.wo
	stride := wgSpan(g.cout * tb)
	for o := 0; o < g.cout; o++ {
		for j := j0; j < j1; j++ {
			t := ts[j]
			plane := dy[(t.img*g.cout+o)*ohw : (t.img*g.cout+o+1)*ohw]
			var y [16]float32
			rows, cols := min(wgM, g.ho-t.y), min(wgM, g.wo-t.x)
			for r := 0; r < rows; r++ {
				copy(y[r*wgM:r*wgM+cols], plane[(t.y+r)*g.wo+t.x:])
			}
			gradTransform(&y, z[o*tb+j:], stride)
		}
	}
}

// gradTransform writes A y Aᵀ (6x6) of the 4x4 y to z[0], z[stride], ...
// z[35*stride], each row as the row pass makes it.
func gradTransform(y *[16]float32, z []float32, stride int) {
	var h [24]float32 // A y: 6x4
	for c := 0; c < wgM; c++ {
		h[c], h[4+c], h[8+c], h[12+c], h[16+c], h[20+c] = grad1D(y[c], y[4+c], y[8+c], y[12+c])
	}
	_ = z[35*stride]
	for r := 0; r < wgA; r++ {
		t0, t1, t2, t3, t4, t5 := grad1D(h[r*4], h[r*4+1], h[r*4+2], h[r*4+3])
		e := r * 6 * stride
		z[e], z[e+stride], z[e+2*stride], z[e+3*stride], z[e+4*stride], z[e+5*stride] = t0, t1, t2, t3, t4, t5
	}
}

// grad1D is A y for one column y of four values.
func grad1D(y0, y1, y2, y3 float32) (z0, z1, z2, z3, z4, z5 float32) {
	e, o := y0+y2, y1+y3
	e2, o2 := y0+0.25*y2, 0.5*y1+0.125*y3
	return y0, e + o, e - o, e2 + o2, e2 - o2, y3
}
