// Package report draws starid's pictures: training curves, the confusion
// matrix and sample grids, as PNG files written atomically (a reader never
// sees half a file, and an interrupted run never leaves one behind).
//
// Plots are made with gonum/plot and its embedded Liberation fonts, and the
// sample grid with the Go fonts, so no system font is needed.
package report

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
)

// writeAtomic writes a file through a temporary sibling that is synced and
// then renamed over path, so path holds either the old or the new content.
func writeAtomic(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriter(f)
	if err = write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a plot is not a secret.
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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
