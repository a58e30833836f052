// Command mirror writes a mirrored, rescaled copy of a photo: `make demo`
// enrolls a face from one photo and then shows that starid names the same
// face in a picture it has not seen in that form. --face also writes the
// largest face of the photo, cut out with a margin: the sample photos are
// group photos, which enroll refuses as unclear.
//
//	go run ./scripts/demo/mirror --scale 0.6 [--face face.png] in.jpg out.png
package main

import (
	"flag"
	"fmt"
	"image"
	"os"

	xdraw "golang.org/x/image/draw"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/report"
)

func main() {
	scale := flag.Float64("scale", 0.6, "size of the copy relative to the photo")
	face := flag.String("face", "", "also write the largest face, cut out with a margin, to this PNG")
	flag.Parse()
	if flag.NArg() != 2 || !(*scale > 0.05 && *scale <= 4) {
		fmt.Fprintln(os.Stderr, "usage: mirror [--scale 0.6] IN OUT.png (scale in (0.05, 4])")
		os.Exit(1)
	}
	if err := mirror(flag.Arg(0), flag.Arg(1), *scale); err != nil {
		fmt.Fprintln(os.Stderr, "mirror:", err)
		os.Exit(1)
	}
	if *face != "" {
		if err := cutFace(flag.Arg(0), *face); err != nil {
			fmt.Fprintln(os.Stderr, "mirror:", err)
			os.Exit(1)
		}
	}
}

// cutFace writes the largest face of the photo in, with its surroundings
// (faces.CropLargest), to out.
func cutFace(in, out string) error {
	src, err := data.DecodeFile(in, data.DefaultMaxPixels)
	if err != nil {
		return err
	}
	pipe, err := faces.LoadInstalled()
	if err != nil {
		return err
	}
	found, err := pipe.Faces(faces.FromImage(src))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	img, err := faces.CropLargest(src, found, 1.4)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	return report.WritePNG(img, out)
}

func mirror(in, out string, scale float64) error {
	src, err := data.DecodeFile(in, data.DefaultMaxPixels)
	if err != nil {
		return err
	}
	b := src.Bounds()
	flipped := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			flipped.Set(b.Dx()-1-x, y, src.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	w, h := max(1, int(float64(b.Dx())*scale)), max(1, int(float64(b.Dy())*scale))
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(dst, dst.Rect, flipped, flipped.Rect, xdraw.Src, nil)
	return report.WritePNG(dst, out)
}
