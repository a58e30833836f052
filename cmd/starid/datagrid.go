package main

import (
	"fmt"
	"io"

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
// photos (data.GridSamples).
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
	imgs, labels, err := data.GridSamples(ds, o.class, o.cols*o.rows, func(msg string) { fmt.Fprintln(stderr, msg) })
	if err != nil {
		return err
	}
	for _, s := range ds.Samples {
		if data.SameFile(o.out, s.Path) {
			return usagef("--out %s would overwrite a photo of the folder", o.out)
		}
	}
	if err := report.Grid(imgs, labels, o.cols, o.out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d images)\n", o.out, len(imgs))
	return nil
}
