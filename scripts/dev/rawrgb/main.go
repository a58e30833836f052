// Command rawrgb dumps a photo's pixels exactly as starid decodes them, so
// the JavaScript face-api reference (scripts/dev/faceapi) runs on the same
// RGB values as the Go port. Differences in the golden numbers then measure
// the nets, not two JPEG decoders or two EXIF implementations.
//
//	go run ./scripts/dev/rawrgb IN.jpg OUT.rgb
//
// OUT.rgb is width and height as little-endian uint32, then width*height*3
// bytes of R, G, B, row by row from the top-left pixel. It is a dev-only
// intermediate: never commit it.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"os"

	"starid/internal/data"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run ./scripts/dev/rawrgb IN.jpg OUT.rgb")
		os.Exit(2)
	}
	if err := dump(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "rawrgb:", err)
		os.Exit(1)
	}
}

// dump decodes in (EXIF orientation applied, the same call the face
// pipeline uses) and writes the raw RGB file out.
func dump(in, out string) error {
	img, err := data.DecodeFile(in, data.DefaultMaxPixels)
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := write(w, img); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// write emits the header and the pixels. The alpha byte is dropped: decoded
// photos are opaque, and face-api's tensors are 3-channel.
func write(w *bufio.Writer, img *image.RGBA) error {
	b := img.Bounds()
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(b.Dx()))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(b.Dy()))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			if _, err := w.Write(row[4*x : 4*x+3]); err != nil {
				return err
			}
		}
	}
	return nil
}
