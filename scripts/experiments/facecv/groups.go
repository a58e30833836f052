package main

import (
	"fmt"
	"image"
	"path/filepath"

	xdraw "golang.org/x/image/draw"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/report"
)

// groups counts the faces found in the sample group photos of the face
// models (drawn to PNG to be checked by eye) and measures recall on
// collages of held-out photos.
func (e *env) groups(modelDir string) error {
	fmt.Printf("group photos (small-face second look %v)\n", e.look.SmallFaces)
	for i := 1; i <= 6; i++ {
		path := filepath.Join(modelDir, "demo", fmt.Sprintf("sample%d.jpg", i))
		img, err := loadFaces(path)
		if err != nil {
			return err
		}
		found, err := e.look.Faces(img)
		if err != nil {
			return err
		}
		small := 1e9
		for _, f := range found {
			small = min(small, max(f.Box.W, f.Box.H))
		}
		out := filepath.Join(e.out, fmt.Sprintf("sample%d-%v.png", i, e.look.SmallFaces))
		if err := drawFound(img, found, nil, out); err != nil {
			return err
		}
		fmt.Printf("%s: %d faces found (smallest %.0f px), drawn in %s\n", filepath.Base(path), len(found), small, out)
	}
	return e.collages()
}

// drawFound writes img with the found boxes, labelled by names when given.
func drawFound(img *faces.Image, found []faces.Face, names []string, path string) error {
	var marks []report.Mark
	for i, f := range found {
		r := image.Rect(int(f.Box.X), int(f.Box.Y), int(f.Box.Right()), int(f.Box.Bottom()))
		label := fmt.Sprintf("%.2f", f.Score)
		if names != nil {
			label = names[i]
		}
		marks = append(marks, report.Mark{Box: r, Label: label})
	}
	a, err := report.Annotate(toRGBA(img), marks)
	if err != nil {
		return err
	}
	return report.WritePNG(a, path)
}

// collageLayouts are the collages made: columns x rows of square tiles.
var collageLayouts = []struct{ cols, rows, tile int }{{4, 1, 400}, {8, 1, 300}, {4, 2, 400}, {6, 3, 300}}

// collages puts held-out photos side by side (each cut to a square around
// its main face, the face a third of the tile) and counts the main faces
// found (a found box overlapping the placed face) and named right.
func (e *env) collages() error {
	d, test, y, err := e.heldOut()
	if err != nil {
		return err
	}
	fmt.Println("layout        faces  found  named right  wrong  unknown")
	for _, l := range collageLayouts {
		per := l.cols * l.rows
		var found, n int
		var t tally
		for start := 0; start+per <= len(test); start += per {
			img, want, err := makeCollage(test[start:start+per], l.cols, l.rows, l.tile)
			if err != nil {
				return err
			}
			got, err := e.look.Faces(img)
			if err != nil {
				return err
			}
			for j, w := range want {
				n++
				desc := matchFace(got, w)
				if desc != nil {
					found++
				}
				t.add(d, desc, y[start+j])
			}
			if start == 0 {
				names := nameAll(d, got)
				path := filepath.Join(e.out, fmt.Sprintf("collage-%dx%d-%v.png", l.cols, l.rows, e.look.SmallFaces))
				if err := drawFound(img, got, names, path); err != nil {
					return err
				}
			}
		}
		fmt.Printf("%dx%d of %3d px  %5d  %5d  %11d  %5d  %7d\n", l.cols, l.rows, l.tile, n, found, t.right, t.wrong, t.unknown)
	}
	return nil
}

func nameAll(d *decider, fs []faces.Face) []string {
	var names []string
	for _, f := range fs {
		a := d.identify(f.Descriptor)
		if a.Class == eval.Unknown {
			names = append(names, "unknown")
		} else {
			names = append(names, a.Name)
		}
	}
	return names
}

// matchFace is the descriptor of the found face that best overlaps box.
func matchFace(got []faces.Face, box faces.Box) []float32 {
	best, at := 0.3, -1
	for i, f := range got {
		if iou := faces.IoU(f.Box, box); iou > best {
			best, at = iou, i
		}
	}
	if at < 0 {
		return nil
	}
	return got[at].Descriptor
}

// makeCollage tiles the photos and returns where each main face landed.
func makeCollage(ps []identify.Photo, cols, rows, tile int) (*faces.Image, []faces.Box, error) {
	canvas := image.NewRGBA(image.Rect(0, 0, cols*tile, rows*tile))
	var want []faces.Box
	for j, p := range ps {
		img, err := loadFaces(p.Path)
		if err != nil {
			return nil, nil, err
		}
		f := p.Faces[faces.MainFace(p.Faces)]
		side := 3 * max(f.Box.W, f.Box.H)
		side = min(side, float64(min(img.W, img.H)))
		cx := min(max(f.Box.X+f.Box.W/2, side/2), float64(img.W)-side/2)
		cy := min(max(f.Box.Y+f.Box.H/2, side/2), float64(img.H)-side/2)
		src := image.Rect(int(cx-side/2), int(cy-side/2), int(cx+side/2), int(cy+side/2))
		ox, oy := (j%cols)*tile, (j/cols)*tile
		dst := image.Rect(ox, oy, ox+tile, oy+tile)
		xdraw.CatmullRom.Scale(canvas, dst, toRGBA(img), src, xdraw.Src, nil)
		k := float64(tile) / float64(src.Dx())
		want = append(want, faces.Box{X: float64(ox) + (f.Box.X-float64(src.Min.X))*k, Y: float64(oy) + (f.Box.Y-float64(src.Min.Y))*k,
			W: f.Box.W * k, H: f.Box.H * k})
	}
	return faces.FromImage(canvas), want, nil
}
