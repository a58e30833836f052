// Package report draws starid's pictures: training curves, the confusion
// matrix and sample grids, as PNG files written atomically (a reader never
// sees half a file, and an interrupted run never leaves one behind).
//
// Plots are made with gonum/plot and its embedded Liberation fonts, and the
// sample grid with the Go fonts, so no system font is needed.
package report

import (
	"image"
	"image/png"
	"io"
	"starid/internal/atomicfile"
)

// writeAtomic writes path so that it holds the old or the new content,
// never a torn file (see package atomicfile).
func writeAtomic(path string, write func(w io.Writer) error) error {
	return atomicfile.Write(path, write)
}

// WritePNG encodes img to path atomically.
func WritePNG(img image.Image, path string) error {
	return writeAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// WriteFileAtomic writes data to path atomically (JSON reports beside the
// plots).
func WriteFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
