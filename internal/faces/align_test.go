package faces

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// simApply maps p by x' = a*x - b*y + tx, y' = b*x + a*y + ty.
func simApply(a, b, tx, ty float64, p Point) Point {
	return Point{a*p.X - b*p.Y + tx, b*p.X + a*p.Y + ty}
}

func simSSE(a, b, tx, ty float64, src, dst []Point) float64 {
	s := 0.0
	for i := range src {
		q := simApply(a, b, tx, ty, src[i])
		s += (q.X-dst[i].X)*(q.X-dst[i].X) + (q.Y-dst[i].Y)*(q.Y-dst[i].Y)
	}
	return s
}

func TestSimilarityRecoversTransform(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	src := make([]Point, 68)
	for i := range src {
		src[i] = Point{rng.Float64()*300 + 50, rng.Float64()*200 - 20}
	}
	for _, tc := range []struct {
		name          string
		deg, scale    float64
		tx, ty, noise float64
	}{
		{"identity", 0, 1, 0, 0, 0},
		{"shift", 0, 1, 12.5, -7.25, 0},
		{"rotate 30", 30, 1, 0, 0, 0},
		{"rotate -135 and shrink", -135, 0.37, 40, 90, 0},
		{"rotate 180 and grow", 180, 2.5, -300, 5, 0},
		{"upside-down tilt", 95, 0.5, 75, 75, 0},
		{"noisy", 20, 0.8, 10, 20, 2},
		{"very noisy", -60, 1.7, 0, -50, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := tc.deg * math.Pi / 180
			wa, wb := tc.scale*math.Cos(th), tc.scale*math.Sin(th)
			dst := make([]Point, len(src))
			for i, p := range src {
				dst[i] = simApply(wa, wb, tc.tx, tc.ty, p)
				dst[i].X += rng.NormFloat64() * tc.noise
				dst[i].Y += rng.NormFloat64() * tc.noise
			}
			a, b, tx, ty := Similarity(src, dst)
			if tc.noise == 0 {
				for _, d := range []struct{ got, want float64 }{{a, wa}, {b, wb}, {tx, tc.tx}, {ty, tc.ty}} {
					if math.Abs(d.got-d.want) > 1e-9*max(1, math.Abs(d.want)) {
						t.Fatalf("got a=%g b=%g t=(%g, %g), want a=%g b=%g t=(%g, %g)",
							a, b, tx, ty, wa, wb, tc.tx, tc.ty)
					}
				}
				return
			}
			// With noise the answer is the least-squares optimum: moving
			// any parameter either way must not lower the error.
			best := simSSE(a, b, tx, ty, src, dst)
			p := [4]float64{a, b, tx, ty}
			for k := range p {
				for _, step := range []float64{1e-4, -1e-4, 1e-2, -1e-2} {
					q := p
					q[k] += step
					if e := simSSE(q[0], q[1], q[2], q[3], src, dst); e < best {
						t.Fatalf("parameter %d moved by %g lowers the error from %g to %g", k, step, best, e)
					}
				}
			}
			// And it is near the transform the noise was added to.
			if math.Abs(a-wa) > 0.05*tc.scale || math.Abs(b-wb) > 0.05*tc.scale {
				t.Errorf("a=%g b=%g, want about %g and %g", a, b, wa, wb)
			}
		})
	}
}

func TestSimilarityDegenerate(t *testing.T) {
	same := []Point{{3, 4}, {3, 4}, {3, 4}}
	dst := []Point{{0, 0}, {10, 0}, {5, 9}}
	for _, tc := range []struct {
		name         string
		src, dst     []Point
		wantTx, want float64
	}{
		{"no points", nil, nil, 0, 0},
		{"coinciding source", same, dst, 5, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, tx, ty := Similarity(tc.src, tc.dst)
			if a != 0 || b != 0 || tx != tc.wantTx || ty != tc.want {
				t.Errorf("got a=%g b=%g t=(%g, %g), want 0 0 (%g, %g)", a, b, tx, ty, tc.wantTx, tc.want)
			}
		})
	}
	// Extra points on one side are ignored.
	a, b, tx, ty := Similarity([]Point{{0, 0}, {1, 0}, {99, 99}}, []Point{{5, 5}, {5, 7}})
	if math.Abs(a) > 1e-12 || math.Abs(b-2) > 1e-12 || tx != 5 || ty != 5 {
		t.Errorf("unequal lengths: a=%g b=%g t=(%g, %g), want 0 2 (5, 5)", a, b, tx, ty)
	}
}

// templateLandmarks returns 68 landmarks whose eye and mouth centres are
// the given points, each group spread around its centre.
func templateLandmarks(le, re, mouth Point) []Point {
	lm := make([]Point, NumLandmarks)
	for i := range lm {
		lm[i] = Point{(le.X + re.X) / 2, (le.Y + mouth.Y) / 2} // jaw, brows, nose: unused
	}
	spread := func(from, to int, c Point, r float64) {
		n := to - from
		for k := range n {
			th := 2 * math.Pi * float64(k) / float64(n)
			lm[from+k] = Point{c.X + r*math.Cos(th), c.Y + r*math.Sin(th)}
		}
	}
	spread(36, 42, le, 3)
	spread(42, 48, re, 3)
	spread(48, 68, mouth, 5)
	return lm
}

// chipPattern is an upright synthetic face in chip pixel coordinates: a red
// blob on each template eye, a green one on the mouth, and blue growing
// downwards, so that a chip turned or flipped cannot match it.
func chipPattern(tpl Template, u, v float64) [3]float64 {
	s := float64(tpl.Size)
	blob := func(p Point, sigma float64) float64 {
		dx, dy := u-p.X*s, v-p.Y*s
		return math.Exp(-(dx*dx + dy*dy) / (2 * sigma * sigma))
	}
	return [3]float64{
		40 + 200*(blob(tpl.LeftEye, 7)+blob(tpl.RightEye, 7)),
		40 + 200*blob(tpl.Mouth, 9),
		200 * v / s,
	}
}

// TestAlignedChipUpright renders the pattern into a photo turned, scaled
// and moved by a known transform, gives AlignedChip the landmarks that
// transform implies, and expects the upright pattern back.
func TestAlignedChipUpright(t *testing.T) {
	tpl := DefaultTemplate
	for _, tc := range []struct {
		name       string
		deg, scale float64 // chip to photo
		tol        float64
	}{
		{"large face turned 35 degrees", 35, 2.2, 4},
		{"small face turned -70 degrees", -70, 0.8, 4},
		{"upside down", 180, 1.3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := tc.deg * math.Pi / 180
			// Chip pixel index q -> photo pixel index p = s R q + c.
			a, b := tc.scale*math.Cos(th), tc.scale*math.Sin(th)
			// Place the chip's corners inside the photo with a margin.
			s := float64(tpl.Size)
			x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for _, q := range []Point{{0, 0}, {s, 0}, {0, s}, {s, s}} {
				p := simApply(a, b, 0, 0, q)
				x0, y0, x1, y1 = min(x0, p.X), min(y0, p.Y), max(x1, p.X), max(y1, p.Y)
			}
			cx, cy := 20-x0, 20-y0
			ia, ib := a/(tc.scale*tc.scale), b/(tc.scale*tc.scale) // inverse
			img := NewImage(int(x1-x0)+40, int(y1-y0)+40)
			for y := range img.H {
				for x := range img.W {
					dx, dy := float64(x)-cx, float64(y)-cy
					u, v := ia*dx+ib*dy, -ib*dx+ia*dy
					val := chipPattern(tpl, u, v)
					for c := range 3 {
						img.Pix[(y*img.W+x)*3+c] = float32(val[c])
					}
				}
			}
			// Landmarks use the corner origin: pixel index + 0.5.
			toPhoto := func(p Point) Point {
				q := simApply(a, b, cx, cy, Point{p.X * float64(tpl.Size), p.Y * float64(tpl.Size)})
				return Point{q.X + 0.5, q.Y + 0.5}
			}
			lm := templateLandmarks(toPhoto(tpl.LeftEye), toPhoto(tpl.RightEye), toPhoto(tpl.Mouth))
			chip, err := AlignedChip(img, lm, tpl, nil)
			if err != nil {
				t.Fatal(err)
			}
			if chip.W != tpl.Size || chip.H != tpl.Size {
				t.Fatalf("chip %dx%d, want %d", chip.W, chip.H, tpl.Size)
			}
			worst := 0.0
			for v := range chip.H {
				for u := range chip.W {
					want := chipPattern(tpl, float64(u), float64(v))
					for c := range 3 {
						d := math.Abs(float64(chip.Pix[(v*chip.W+u)*3+c]) - want[c])
						worst = max(worst, d)
					}
				}
			}
			t.Logf("worst difference %.3f", worst)
			if worst > tc.tol {
				t.Errorf("chip differs from the upright pattern by up to %.2f (of 255), want <= %g", worst, tc.tol)
			}
		})
	}
}

// TestAlignedChipOutsideIsBlack aligns a face at the photo's corner: chip
// pixels that map outside the photo are exactly 0, the others are not.
func TestAlignedChipOutsideIsBlack(t *testing.T) {
	img := NewImage(120, 100)
	for i := range img.Pix {
		img.Pix[i] = 100
	}
	// A face about 50 pixels wide whose eyes sit 10 pixels from the top.
	lm := templateLandmarks(Point{10, 10}, Point{40, 10}, Point{25, 45})
	chip, err := AlignedChip(img, lm, DefaultTemplate, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := func(x, y int) float32 { return chip.Pix[(y*chip.W+x)*3] }
	if v := at(0, 0); v != 0 {
		t.Errorf("top-left chip pixel, far outside the photo, is %g, want 0", v)
	}
	if v := at(chip.W-1, chip.H-1); math.Abs(float64(v)-100) > 1e-3 {
		t.Errorf("bottom-right chip pixel, inside the photo, is %g, want 100", v)
	}
}

func TestAlignedChipReusesOut(t *testing.T) {
	img := NewImage(300, 300)
	lm := templateLandmarks(Point{100, 120}, Point{180, 120}, Point{140, 200})
	buf := NewImage(DefaultTemplate.Size, DefaultTemplate.Size)
	got, err := AlignedChip(img, lm, DefaultTemplate, buf)
	if err != nil || got != buf {
		t.Fatalf("a right-sized out was not reused (err %v)", err)
	}
	small := NewImage(10, 10)
	got, err = AlignedChip(img, lm, DefaultTemplate, small)
	if err != nil || got == small || got.W != DefaultTemplate.Size {
		t.Fatalf("a wrong-sized out was used (err %v)", err)
	}
}

func TestAlignedChipRefusesDegenerateInput(t *testing.T) {
	img := NewImage(200, 200)
	good := templateLandmarks(Point{70, 80}, Point{130, 80}, Point{100, 140})
	same := make([]Point, NumLandmarks)
	for i := range same {
		same[i] = Point{50, 50}
	}
	nan := append([]Point(nil), good...)
	nan[40].X = math.NaN()
	inf := append([]Point(nil), good...)
	inf[60].Y = math.Inf(1)
	flat := DefaultTemplate
	flat.RightEye, flat.Mouth = flat.LeftEye, flat.LeftEye
	zero := DefaultTemplate
	zero.Size = 0
	huge := DefaultTemplate
	huge.Size = MaxChipSize + 1
	for _, tc := range []struct {
		name string
		img  *Image
		lm   []Point
		tpl  Template
		want string
	}{
		{"no landmarks", img, nil, DefaultTemplate, "0 landmarks"},
		{"67 landmarks", img, good[:67], DefaultTemplate, "67 landmarks"},
		{"69 landmarks", img, append(append([]Point(nil), good...), Point{}), DefaultTemplate, "69 landmarks"},
		{"all points equal", img, same, DefaultTemplate, "degenerate landmarks"},
		{"NaN landmark", img, nan, DefaultTemplate, "landmark 40"},
		{"infinite landmark", img, inf, DefaultTemplate, "landmark 60"},
		{"template points equal", img, good, flat, "degenerate template"},
		{"size 0", img, good, zero, "size 0"},
		{"size too large", img, good, huge, "outside"},
		{"nil image", nil, good, DefaultTemplate, "not a valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chip, err := AlignedChip(tc.img, tc.lm, tc.tpl, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if chip != nil {
				t.Fatal("a chip came back with the error")
			}
		})
	}
}

// TestDefaultTemplate pins the reasoning in DefaultTemplate's comment: dlib's
// mean-face centres at padding 0.25 of a 150-pixel chip.
func TestDefaultTemplate(t *testing.T) {
	tp := DefaultTemplate
	if tp.Size != 150 {
		t.Errorf("size %d, want 150", tp.Size)
	}
	pad := func(m float64) float64 { return (0.25 + m) / 1.5 }
	for _, c := range []struct {
		name      string
		got, want Point
	}{
		{"left eye", tp.LeftEye, Point{pad(0.22549), pad(0.21599)}},
		{"right eye", tp.RightEye, Point{pad(0.75476), pad(0.21599)}},
		{"mouth", tp.Mouth, Point{pad(0.49013), pad(0.80422)}},
	} {
		if math.Abs(c.got.X-c.want.X) > 1e-4 || math.Abs(c.got.Y-c.want.Y) > 1e-4 {
			t.Errorf("%s at %v, want %v", c.name, c.got, c.want)
		}
	}
}
