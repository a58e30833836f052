// Command mirror writes a mirrored, rescaled copy of a photo: `make demo`
// enrolls a face from one photo and then shows that starid names the same
// face in a picture it has not seen in that form.
//
//	go run ./scripts/demo/mirror --scale 0.6 in.jpg out.png
package main

import (
	"flag"
	"fmt"
	"image"
	"os"

	xdraw "golang.org/x/image/draw"

	"starid/internal/data"
	"starid/internal/report"
)

func main() {
	scale := flag.Float64("scale", 0.6, "size of the copy relative to the photo")
	flag.Parse()
	if flag.NArg() != 2 || !(*scale > 0.05 && *scale <= 4) {
		fmt.Fprintln(os.Stderr, "usage: mirror [--scale 0.6] IN OUT.png (scale in (0.05, 4])")
		os.Exit(1)
	}
	if err := mirror(flag.Arg(0), flag.Arg(1), *scale); err != nil {
		fmt.Fprintln(os.Stderr, "mirror:", err)
		os.Exit(1)
	}
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
