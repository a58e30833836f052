package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/report"
)

func init() {
	addCommand(func() *cobra.Command {
		return group("data", "look at an image folder: stats (counts, sizes, broken files, duplicates), grid, or synth (a generated folder)",
			newDataStatsCmd(), newDataGridCmd(), newDataSynthCmd())
	})
}

// oneFolder is the argument check of the data commands.
func oneFolder(pos []string, what string) error {
	if len(pos) != 1 {
		return usagef("want exactly one %s folder, got %d arguments", what, len(pos))
	}
	return nil
}

func newDataStatsCmd() *cobra.Command {
	var asJSON, verify bool
	var maxMP int
	c := command("stats DIR", "counts, sizes, broken files and duplicates of an image folder", func(c *cobra.Command, pos []string) error {
		if err := oneFolder(pos, "image"); err != nil {
			return err
		}
		return data.WriteStats(c.OutOrStdout(), pos[0], maxMP, verify, asJSON)
	})
	f := c.Flags()
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	f.BoolVar(&verify, "verify", false, "fully decode every image (finds damage in the middle of a file; slower)")
	f.IntVar(&maxMP, "max-mp", data.DefaultMaxPixels/1_000_000, "refuse images declaring more megapixels than this")
	return c
}

// newDataGridCmd is `starid data grid DIR`: a labelled grid of sample
// photos (data.GridSamples).
func newDataGridCmd() *cobra.Command {
	var class, out string
	var cols, rows int
	c := command("grid DIR", "a labelled grid of sample photos: the first of each class, or of one class", func(c *cobra.Command, pos []string) error {
		if err := oneFolder(pos, "image"); err != nil {
			return err
		}
		imgs, labels, err := data.GridFor(pos[0], class, cols, rows, out, func(msg string) { fmt.Fprintln(c.ErrOrStderr(), msg) })
		if err == nil {
			err = report.Grid(imgs, labels, cols, out)
		}
		return printed(err, c.OutOrStdout(), "wrote %s (%d images)\n", out, len(imgs))
	})
	f := c.Flags()
	f.StringVar(&class, "class", "", "show this class's first photos (default: the first photo of each class)")
	f.StringVar(&out, "out", "grid.png", "PNG `file` to write")
	f.IntVar(&cols, "cols", 4, "images per row")
	f.IntVar(&rows, "rows", 3, "rows")
	return c
}

// newDataSynthCmd is `starid data synth DIR`: a generated ImageFolder of
// coloured shapes, the built-in data set for trying starid without photos.
func newDataSynthCmd() *cobra.Command {
	var classes, perClass, size int
	var seed uint64
	c := command("synth DIR", "write a generated folder of coloured shapes, one sub-folder per shape", func(c *cobra.Command, pos []string) error {
		if err := oneFolder(pos, "output"); err != nil {
			return err
		}
		err := data.SynthFolder(pos[0], classes, perClass, size, seed)
		return printed(err, c.OutOrStdout(), "wrote %d images of %d shapes to %s\n", classes*perClass, classes, pos[0])
	})
	f := c.Flags()
	f.IntVar(&classes, "classes", 4, fmt.Sprintf("number of shape classes (2..%d)", len(data.SynthShapes)))
	f.IntVar(&perClass, "per-class", 40, "images per class")
	f.IntVar(&size, "size", 64, "image width and height in pixels")
	f.Uint64Var(&seed, "seed", 1, "random seed (same seed, same images)")
	return c
}

// printed is err, or else nil once the line saying what was done is printed.
func printed(err error, w io.Writer, format string, args ...any) error {
	if err != nil {
		return err
	}
	fmt.Fprintf(w, format, args...)
	return nil
}
