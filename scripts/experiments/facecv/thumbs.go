package main

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"

	xdraw "golang.org/x/image/draw"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
)

// perPerson is how many held-out photos of each person the fixture
// measurements use (thumbnails, collages, perturbations).
const perPerson = 5

// heldOut trains on folds 1-4 and returns the model, its rule and up to
// perPerson fold-0 photos of each person that have a face.
func (e *env) heldOut() (*decider, []identify.Photo, []int, error) {
	photos, err := e.describeAll()
	if err != nil {
		return nil, nil, nil, err
	}
	fold := e.foldOf()
	label := make([]int, len(photos))
	for i, s := range e.data.Samples {
		label[i] = s.Class
	}
	d, err := e.fitOn(photos, func(i int) bool { return fold[i] != 0 }, label, e.data.Classes)
	if err != nil {
		return nil, nil, nil, err
	}
	var test []identify.Photo
	var y []int
	n := make([]int, len(e.data.Classes))
	for i, p := range photos {
		if fold[i] == 0 && n[label[i]] < perPerson && e.mainFace(p.Faces) != nil {
			test, y = append(test, p), append(y, label[i])
			n[label[i]]++
		}
	}
	return d, test, y, nil
}

// alignedTemplate places the eyes and mouth as dlib's chips do, with pad
// of the face's size around the mean face shape: pad 0 fills the frame.
func alignedTemplate(size int, pad float64) faces.Template {
	at := func(x, y float64) faces.Point {
		return faces.Point{X: (pad + x) / (1 + 2*pad), Y: (pad + y) / (1 + 2*pad)}
	}
	return faces.Template{LeftEye: at(0.2255, 0.2160), RightEye: at(0.7548, 0.2160), Mouth: at(0.4901, 0.8042), Size: size}
}

// toRGBA converts back to a Go image, to resize and encode.
func toRGBA(m *faces.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		for c := range 3 {
			out.Pix[4*i+c] = uint8(min(max(m.Pix[3*i+c]+0.5, 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// jpegRound saves img as a JPEG of the given quality (under path when not
// empty) and decodes it again, as a thumbnail file would arrive.
func jpegRound(img image.Image, q int, path string) (*faces.Image, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	if path != "" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return nil, err
		}
	}
	rgba, err := data.Decode(bytes.NewReader(b.Bytes()), path, 0)
	if err != nil {
		return nil, err
	}
	return faces.FromImage(rgba), nil
}

// resized scales img to w x h with Catmull-Rom (smooth when shrinking).
func resized(img image.Image, w, h int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(out, out.Rect, img, img.Bounds(), xdraw.Src, nil)
	return out
}

// thumbKind is one way of cutting a thumbnail.
type thumbKind struct {
	name    string
	aligned bool
	fill    float64 // share of the frame the face takes
}

var thumbKinds = []thumbKind{
	{"aligned, face fills 100%", true, 1}, {"aligned, face fills 70%", true, 0.7},
	{"unaligned box, fills 100%", false, 1}, {"unaligned box, fills 60%", false, 0.6},
}

var thumbSizes = []int{64, 112, 200, 300}

// thumbnail cuts one fixture from photo img around face f.
func thumbnail(img *faces.Image, f faces.Face, k thumbKind, size int) (image.Image, error) {
	if k.aligned {
		// The mean shape spans about the unit square: the face.
		pad := (1/k.fill - 1) / 2
		chip, err := faces.AlignedChip(img, f.Landmarks, alignedTemplate(size, pad), nil)
		if err != nil {
			return nil, err
		}
		return toRGBA(chip), nil
	}
	side := max(f.Box.W, f.Box.H) / k.fill
	cx, cy := f.Box.X+f.Box.W/2, f.Box.Y+f.Box.H/2
	r := image.Rect(int(cx-side/2), int(cy-side/2), int(cx+side/2), int(cy+side/2))
	src := toRGBA(img)
	crop := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	xdraw.Draw(crop, crop.Rect, src, r.Min, xdraw.Src) // outside the photo stays black
	return resized(crop, size, size), nil
}

func (e *env) thumbnails() error {
	d, test, y, err := e.heldOut()
	if err != nil {
		return err
	}
	dir := filepath.Join(e.out, "thumbs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Printf("thumbnails of %d held-out photos (border retry %.2f)\n", len(test), e.look.Border)
	fmt.Println("kind                        size  no face  named right  wrong  unknown")
	for _, k := range thumbKinds {
		if *thumbsFilled && k.fill < 1 {
			continue
		}
		for _, size := range thumbSizes {
			var t tally
			var none int
			for i, p := range test {
				img, err := loadFaces(p.Path)
				if err != nil {
					return err
				}
				f := p.Faces[faces.MainFace(p.Faces)]
				th, err := thumbnail(img, f, k, size)
				if err != nil {
					return fmt.Errorf("%s: %w", p.Path, err)
				}
				name := filepath.Join(dir, fmt.Sprintf("%s-%d-%d-%d.jpg", map[bool]string{true: "al", false: "box"}[k.aligned], int(100*k.fill), size, i))
				tim, err := jpegRound(th, 90, name)
				if err != nil {
					return err
				}
				found, err := e.look.Faces(tim)
				if err != nil {
					return err
				}
				if len(found) == 0 {
					none++
				}
				t.add(d, e.mainFace(found), y[i])
			}
			fmt.Printf("%-26s  %4d  %7d  %11d  %5d  %7d   of %d\n", k.name, size, none, t.right, t.wrong, t.unknown, t.n)
		}
	}
	return nil
}

// add counts one decision on a known person's face (nil: none found).
func (t *tally) add(d *decider, desc []float32, want int) {
	t.n++
	a, _, ok := answer(d, desc)
	switch {
	case !ok || a.Class == eval.Unknown:
		t.unknown++
	case a.Class == want:
		t.right++
	default:
		t.wrong++
	}
	if ok && a.Best == want {
		t.closed++
	}
}

func loadFaces(path string) (*faces.Image, error) {
	rgba, err := data.DecodeFile(path, 0)
	if err != nil {
		return nil, err
	}
	return faces.FromImage(rgba), nil
}
