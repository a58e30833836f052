package main

import (
	"fmt"
	"math"

	"starid/internal/faces"
)

// perturbation changes a photo whose main face is f.
type perturbation struct {
	name string
	do   func(img *faces.Image, f faces.Face) (*faces.Image, error)
}

var perturbations = []perturbation{
	{"none", func(m *faces.Image, _ faces.Face) (*faces.Image, error) { return m, nil }},
	{"grayscale", func(m *faces.Image, _ faces.Face) (*faces.Image, error) { return grayscale(m), nil }},
	{"rotated +15°", rotatedBy(15)}, {"rotated -15°", rotatedBy(-15)},
	{"rotated +30°", rotatedBy(30)}, {"rotated -30°", rotatedBy(-30)},
	{"JPEG quality 20", func(m *faces.Image, _ faces.Face) (*faces.Image, error) { return jpegRound(toRGBA(m), 20, "") }},
	{"gamma 2 (dark)", gammaOf(2)}, {"gamma 0.5 (bright)", gammaOf(0.5)},
	{"face downscaled to 40 px", func(m *faces.Image, f faces.Face) (*faces.Image, error) {
		k := 40 / max(f.Box.W, f.Box.H)
		w, h := max(1, int(float64(m.W)*k)), max(1, int(float64(m.H)*k))
		return faces.FromImage(resized(toRGBA(m), w, h)), nil
	}},
	{"motion blur (face width / 8)", func(m *faces.Image, f faces.Face) (*faces.Image, error) {
		return motionBlur(m, max(3, int(f.Box.W/8))), nil
	}},
}

func grayscale(m *faces.Image) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	for i := 0; i < m.W*m.H; i++ {
		y := 0.299*m.Pix[3*i] + 0.587*m.Pix[3*i+1] + 0.114*m.Pix[3*i+2]
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = y, y, y
	}
	return out
}

func gammaOf(g float64) func(*faces.Image, faces.Face) (*faces.Image, error) {
	return func(m *faces.Image, _ faces.Face) (*faces.Image, error) {
		out := faces.NewImage(m.W, m.H)
		for i, v := range m.Pix {
			out.Pix[i] = float32(255 * math.Pow(float64(v)/255, g))
		}
		return out, nil
	}
}

// rotatedBy turns the photo about its centre, same canvas, black corners.
func rotatedBy(deg float64) func(*faces.Image, faces.Face) (*faces.Image, error) {
	return func(m *faces.Image, _ faces.Face) (*faces.Image, error) {
		s, c := math.Sincos(deg * math.Pi / 180)
		cx, cy := float64(m.W)/2, float64(m.H)/2
		out := faces.NewImage(m.W, m.H)
		for y := range m.H {
			for x := range m.W {
				dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
				sx, sy := int(c*dx+s*dy+cx), int(-s*dx+c*dy+cy)
				for ch := range 3 {
					out.Pix[(y*m.W+x)*3+ch] = m.At(sx, sy, ch)
				}
			}
		}
		return out, nil
	}
}

// motionBlur averages n pixels along each row (a horizontal shake).
func motionBlur(m *faces.Image, n int) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	for y := range m.H {
		for x := range m.W {
			for ch := range 3 {
				var s float32
				k := 0
				for d := -n / 2; d <= n/2; d++ {
					if xx := x + d; xx >= 0 && xx < m.W {
						s += m.Pix[(y*m.W+xx)*3+ch]
						k++
					}
				}
				out.Pix[(y*m.W+x)*3+ch] = s / float32(k)
			}
		}
	}
	return out
}

// robustness answers the held-out photos under each perturbation.
func (e *env) robustness() error {
	d, test, y, err := e.heldOut()
	if err != nil {
		return err
	}
	fmt.Printf("robustness on %d held-out photos\n", len(test))
	fmt.Println("perturbation                   no face  named right  wrong  unknown")
	for _, pt := range perturbations {
		var t tally
		none := 0
		for i, p := range test {
			img, err := loadFaces(p.Path)
			if err != nil {
				return err
			}
			pimg, err := pt.do(img, p.Faces[faces.MainFace(p.Faces)])
			if err != nil {
				return fmt.Errorf("%s: %s: %w", p.Path, pt.name, err)
			}
			found, err := e.look.Faces(pimg)
			if err != nil {
				return err
			}
			if len(found) == 0 {
				none++
			}
			t.add(d, e.mainFace(found), y[i])
		}
		fmt.Printf("%-30s  %7d  %6d %5.1f%%  %5d  %7d\n", pt.name, none, t.right, t.pct(t.right), t.wrong, t.unknown)
	}
	return nil
}
