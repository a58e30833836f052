package main

import (
	"fmt"
	"image"
	"io"
	"slices"
	"strings"

	"starid/internal/data"
	"starid/internal/report"
)

// runDataGrid is `starid data grid DIR [--class NAME] [--out F.png]
// [--cols 4] [--rows 3]`: a labelled grid of sample photos.
//
// With --class it shows the first cols*rows photos of that class (in the
// scan's sorted file order), each captioned with the class name. Without it
// it shows the first photo of each class, captioned with the class name, so
// one picture introduces every person; classes beyond cols*rows are left
// out and a note says how many.
// maxGridSide bounds --cols and --rows: a grid is for looking at.
const maxGridSide = 64

func runDataGrid(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data grid", "data grid DIR [--class NAME] [--out grid.png] [--cols 4] [--rows 3]", stderr)
	class := fs.String("class", "", "show this class's first photos (default: the first photo of each class)")
	out := fs.String("out", "grid.png", "PNG file to write")
	cols := fs.Int("cols", 4, "images per row")
	rows := fs.Int("rows", 3, "rows")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one image folder, got %d arguments", len(pos))
	}
	if *cols < 1 || *rows < 1 || *cols > maxGridSide || *rows > maxGridSide {
		return usagef("--cols and --rows must be between 1 and %d", maxGridSide)
	}
	if *out == "" {
		return usagef("--out must name a file")
	}
	ds, err := data.Scan(pos[0], data.ScanOptions{})
	if err != nil {
		return err
	}
	limit := *cols * *rows
	var picks []int // indices into ds.Samples
	if *class != "" {
		ci := slices.Index(ds.Classes, *class)
		if ci < 0 {
			return fmt.Errorf("%s has no class %q; its classes are %s", ds.Root, *class, strings.Join(ds.Classes, ", "))
		}
		for i, s := range ds.Samples {
			if s.Class == ci {
				picks = append(picks, i)
			}
		}
		if len(picks) == 0 {
			return fmt.Errorf("class %q in %s has no usable photo", *class, ds.Root)
		}
	} else {
		seen := make([]bool, len(ds.Classes))
		for i, s := range ds.Samples {
			if !seen[s.Class] {
				seen[s.Class] = true
				picks = append(picks, i)
			}
		}
		if len(picks) > limit {
			fmt.Fprintf(stderr, "showing the first %d of %d classes (raise --rows or --cols for more)\n", limit, len(picks))
		}
	}

	var imgs []image.Image
	var labels []string
	for _, i := range picks {
		if len(imgs) == limit {
			break
		}
		s := ds.Samples[i]
		img, err := data.DecodeFile(s.Path, data.DefaultMaxPixels)
		if err != nil {
			// Scan only checks headers and endings; a file broken in the
			// middle shows up here. Take the next one.
			fmt.Fprintf(stderr, "skipped %v\n", err)
			continue
		}
		imgs = append(imgs, img)
		labels = append(labels, ds.Classes[s.Class])
	}
	if len(imgs) == 0 {
		return fmt.Errorf("no photo in %s could be decoded", ds.Root)
	}
	for _, s := range ds.Samples {
		if sameFile(*out, s.Path) {
			return usagef("--out %s would overwrite a photo of the folder", *out)
		}
	}
	if err := report.Grid(imgs, labels, *cols, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d images)\n", *out, len(imgs))
	return nil
}
