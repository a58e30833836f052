package data

import (
	"errors"
	"image"
	"io"
	"os"

	"starid/internal/cli"
)

// The whole-folder jobs of `starid data`: each checks its settings (a
// cli.UsageError when they mean nothing) and does the job, so the command
// only binds flags and prints.

// MaxGridSide bounds a grid's columns and rows: a grid is for looking at.
const MaxGridSide = 64

// WriteStats scans dir and writes its Stats to w, as text or indented
// JSON. A folder of only broken files still gets its report, then fails
// with the scan's error.
func WriteStats(w io.Writer, dir string, maxMP int, verify, asJSON bool) error {
	if maxMP < 1 {
		return cli.Usagef("--max-mp must be positive")
	}
	ds, err := Scan(dir, ScanOptions{MaxPixels: maxMP * 1_000_000, Verify: verify})
	if err != nil && !errors.Is(err, ErrNoImages) {
		return err
	}
	st := Summarize(ds)
	write := st.WriteText
	if asJSON {
		write = func(w io.Writer) error { return cli.WriteJSON(w, st) }
	}
	if werr := write(w); werr != nil {
		return werr
	}
	return err
}

// GridFor scans dir and picks the photos of a cols x rows sample grid
// (GridSamples) to be drawn into out, refusing a grid size out of range
// and an out that would overwrite one of the folder's photos.
func GridFor(dir, class string, cols, rows int, out string, note func(string)) ([]image.Image, []string, error) {
	if cols < 1 || rows < 1 || cols > MaxGridSide || rows > MaxGridSide {
		return nil, nil, cli.Usagef("--cols and --rows must be between 1 and %d", MaxGridSide)
	}
	if out == "" {
		return nil, nil, cli.Usagef("--out must name a file")
	}
	ds, err := Scan(dir, ScanOptions{})
	if err != nil {
		return nil, nil, err
	}
	imgs, labels, err := GridSamples(ds, class, cols*rows, note)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range ds.Samples {
		if SameFile(out, s.Path) {
			return nil, nil, cli.Usagef("--out %s would overwrite a photo of the folder", out)
		}
	}
	return imgs, labels, nil
}

// SynthFolder is Synthesize into dir, which must be empty or missing;
// settings Synthesize refuses are usage errors, a file that cannot be
// written is the folder's fault.
func SynthFolder(dir string, classes, perClass, size int, seed uint64) error {
	if err := CheckEmptyFolder(dir); err != nil {
		return err
	}
	err := Synthesize(dir, classes, perClass, size, seed)
	if err != nil && !errors.As(err, new(*os.PathError)) {
		return cli.Usagef("%v", err)
	}
	return err
}
