package main

import (
	"fmt"
	"image"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/report"
)

// maxGridSide bounds --cols and --rows: a grid is for looking at.
const maxGridSide = 64

type dataGridOptions struct {
	class, out string
	cols, rows int
}

// newDataGridCmd is `starid data grid DIR`: a labelled grid of sample
// photos.
//
// With --class it shows the first colso.rows photos of that class (in the
// scan's sorted file order), each captioned with the class name. Without it
// it shows the first photo of each class, captioned with the class name, so
// one picture introduces every person; classes beyond colso.rows are left
// out and a note says how many.
func newDataGridCmd() *cobra.Command {
	var o dataGridOptions
	c := &cobra.Command{
		Use:   "grid DIR",
		Short: "a labelled grid of sample photos: the first of each class, or of one class",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
	f := c.Flags()
	f.StringVar(&o.class, "class", "", "show this class's first photos (default: the first photo of each class)")
	f.StringVar(&o.out, "out", "grid.png", "PNG `file` to write")
	f.IntVar(&o.cols, "cols", 4, "images per row")
	f.IntVar(&o.rows, "rows", 3, "rows")
	return c
}

func (o *dataGridOptions) run(pos []string, stdout, stderr io.Writer) error {
	if len(pos) != 1 {
		return usagef("want exactly one image folder, got %d arguments", len(pos))
	}
	if o.cols < 1 || o.rows < 1 || o.cols > maxGridSide || o.rows > maxGridSide {
		return usagef("--cols and --rows must be between 1 and %d", maxGridSide)
	}
	if o.out == "" {
		return usagef("--out must name a file")
	}
	ds, err := data.Scan(pos[0], data.ScanOptions{})
	if err != nil {
		return err
	}
	limit := o.cols * o.rows
	var picks []int // indices into ds.Samples
	if o.class != "" {
		ci := slices.Index(ds.Classes, o.class)
		if ci < 0 {
			return fmt.Errorf("%s has no class %q; its classes are %s", ds.Root, o.class, strings.Join(ds.Classes, ", "))
		}
		for i, s := range ds.Samples {
			if s.Class == ci {
				picks = append(picks, i)
			}
		}
		if len(picks) == 0 {
			return fmt.Errorf("class %q in %s has no usable photo", o.class, ds.Root)
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
		if sameFile(o.out, s.Path) {
			return usagef("--out %s would overwrite a photo of the folder", o.out)
		}
	}
	if err := report.Grid(imgs, labels, o.cols, o.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d images)\n", o.out, len(imgs))
	return nil
}
