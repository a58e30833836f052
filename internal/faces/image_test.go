package faces

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestSquarePad(t *testing.T) {
	cases := []struct {
		w, h         int
		center       bool
		side, ox, oy int
	}{
		{10, 10, true, 10, 0, 0},
		{10, 4, false, 10, 0, 0},
		{10, 4, true, 10, 0, 3},  // diff 6: 3 above, 3 below
		{4, 11, true, 11, 3, 0},  // diff 7: far side round(3.5)=4, near 3
		{4, 11, false, 11, 0, 0}, // all padding right
		{1, 2, true, 2, 0, 0},    // diff 1: far side round(0.5)=1, near 0
	}
	for _, c := range cases {
		side, ox, oy := SquarePad(c.w, c.h, c.center)
		if side != c.side || ox != c.ox || oy != c.oy {
			t.Errorf("SquarePad(%d,%d,%v) = %d,%d,%d, want %d,%d,%d", c.w, c.h, c.center, side, ox, oy, c.side, c.ox, c.oy)
		}
	}
}

func TestClipBox(t *testing.T) {
	m := NewImage(100, 50)
	cases := []struct {
		b    Box
		want image.Rectangle
	}{
		{Box{10.7, 5.2, 20.9, 10.5}, image.Rect(10, 5, 30, 15)}, // corner and size floored separately, as face-api does
		{Box{-5, -5, 20, 20}, image.Rect(0, 0, 15, 15)},
		{Box{90, 40, 30, 30}, image.Rect(90, 40, 100, 50)},
		{Box{120, 10, 5, 5}, image.Rectangle{}}, // right of the image
		{Box{10, 10, 0, 5}, image.Rectangle{}},  // empty
	}
	for _, c := range cases {
		if got := m.ClipBox(c.b); got != c.want {
			t.Errorf("ClipBox(%+v) = %v, want %v", c.b, got, c.want)
		}
	}
}

func TestCropAndFromImage(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			src.Set(x, y, color.NRGBA{uint8(10 * x), uint8(10 * y), 7, 255})
		}
	}
	m := FromImage(src)
	if m.W != 5 || m.H != 4 || m.At(3, 2, 0) != 30 || m.At(3, 2, 1) != 20 || m.At(3, 2, 2) != 7 {
		t.Fatalf("FromImage: got %dx%d, pixel (3,2) = %v %v %v", m.W, m.H, m.At(3, 2, 0), m.At(3, 2, 1), m.At(3, 2, 2))
	}
	if m.At(-1, 0, 0) != 0 || m.At(5, 0, 0) != 0 {
		t.Error("At outside the image must read 0")
	}
	c, err := m.Crop(image.Rect(1, 1, 4, 3))
	if err != nil {
		t.Fatal(err)
	}
	if c.W != 3 || c.H != 2 || c.At(0, 0, 0) != 10 || c.At(2, 1, 1) != 20 {
		t.Errorf("Crop: got %dx%d, (0,0)=%v (2,1)g=%v", c.W, c.H, c.At(0, 0, 0), c.At(2, 1, 1))
	}
	if _, err := m.Crop(image.Rect(3, 3, 6, 4)); err == nil {
		t.Error("a crop past the border must fail")
	}
}

// naiveNetInput builds the padded square explicitly and resizes it with
// TF's legacy bilinear formula, the way face-api's tensors go: the
// reference NetInput must agree with bit for bit.
func naiveNetInput(m *Image, size int, center bool, mean [3]float32, div float32) []float32 {
	side, ox, oy := SquarePad(m.W, m.H, center)
	sq := NewImage(side, side)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			for c := 0; c < 3; c++ {
				sq.Pix[((y+oy)*side+x+ox)*3+c] = m.At(x, y, c)
			}
		}
	}
	out := make([]float32, 3*size*size)
	scale := float64(side) / float64(size)
	for y := 0; y < size; y++ {
		fy := scale * float64(y)
		y0 := int(math.Floor(fy))
		y1 := min(side-1, int(math.Ceil(fy)))
		for x := 0; x < size; x++ {
			fx := scale * float64(x)
			x0 := int(math.Floor(fx))
			x1 := min(side-1, int(math.Ceil(fx)))
			for c := 0; c < 3; c++ {
				v := float32(0)
				if side == size {
					v = sq.At(x, y, c)
				} else {
					tl, tr := float64(sq.At(x0, y0, c)), float64(sq.At(x1, y0, c))
					bl, br := float64(sq.At(x0, y1, c)), float64(sq.At(x1, y1, c))
					top := tl + (tr-tl)*(fx-float64(x0))
					bot := bl + (br-bl)*(fx-float64(x0))
					v = float32(top + (bot-top)*(fy-float64(y0)))
				}
				out[c*size*size+y*size+x] = (v - mean[c]) / div
			}
		}
	}
	return out
}

func TestNetInputMatchesPaddedResize(t *testing.T) {
	mean := [3]float32{122.782, 117.001, 104.298}
	for _, c := range []struct {
		w, h, size int
		center     bool
	}{
		{37, 23, 16, true}, {23, 37, 16, false}, {23, 37, 50, true}, {20, 20, 20, true},
		{15, 20, 20, false}, {1, 3, 8, true}, {64, 64, 13, false},
	} {
		m := NewImage(c.w, c.h)
		for i := range m.Pix {
			m.Pix[i] = float32((i*37 + i/3*11) % 256)
		}
		got := m.NetInput(nil, c.size, c.center, mean, 256)
		want := naiveNetInput(m, c.size, c.center, mean, 256)
		if len(got.Data) != len(want) || got.Shape[1] != 3 || got.Shape[2] != c.size {
			t.Fatalf("%+v: shape %v", c, got.Shape)
		}
		for i := range want {
			if got.Data[i] != want[i] {
				t.Fatalf("%+v: element %d = %v, want %v", c, i, got.Data[i], want[i])
			}
		}
	}
}

func TestMainFace(t *testing.T) {
	f := func(score, w float64) Face { return Face{Detection: Detection{Box: Box{W: w, H: w}, Score: score}} }
	cases := []struct {
		fs   []Face
		want int
	}{
		{nil, -1},
		{[]Face{f(0.7, 10)}, 0},
		{[]Face{f(0.6, 40), f(0.95, 20)}, 1}, // a loose low-score box loses
		{[]Face{f(0.9, 20), f(0.85, 40), f(0.55, 80)}, 1}, // largest of the confident ones
	}
	for i, c := range cases {
		if got := MainFace(c.fs); got != c.want {
			t.Errorf("case %d: MainFace = %d, want %d", i, got, c.want)
		}
	}
}

// TestSortLargestFirst orders faces and detections alike, keeps boxes of
// equal area (an empty box counts as area 0) in their order.
func TestSortLargestFirst(t *testing.T) {
	fs := []Face{
		{Detection: Detection{Box: Box{W: 10, H: 10}, Score: 0.1}},
		{Detection: Detection{Box: Box{W: 30, H: 30}, Score: 0.2}},
		{Detection: Detection{Box: Box{W: -5, H: 40}, Score: 0.3}},
		{Detection: Detection{Box: Box{W: 20, H: 6}, Score: 0.4}},
		{Detection: Detection{Box: Box{W: 30, H: 30}, Score: 0.5}},
		{Detection: Detection{Box: Box{W: 0, H: 0}, Score: 0.6}},
	}
	dets := make([]Detection, len(fs))
	for i, f := range fs {
		dets[i] = f.Detection
	}
	SortLargestFirst(fs)
	SortLargestFirst(dets)
	want := []float64{0.2, 0.5, 0.4, 0.1, 0.3, 0.6}
	for i, w := range want {
		if fs[i].Score != w || dets[i].Score != w {
			t.Fatalf("position %d: face score %v, detection score %v, want %v", i, fs[i].Score, dets[i].Score, w)
		}
	}
}
