package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"starid/internal/data"
)

func init() {
	addCommand(func() *cobra.Command {
		return group("data", "look at an image folder: stats (counts, sizes, broken files, duplicates), grid, or synth (a generated folder)",
			newDataStatsCmd(), newDataGridCmd(), newDataSynthCmd())
	})
}

type dataStatsOptions struct {
	json, verify bool
	maxMP        int
}

func newDataStatsCmd() *cobra.Command {
	var o dataStatsOptions
	c := &cobra.Command{
		Use:   "stats DIR",
		Short: "counts, sizes, broken files and duplicates of an image folder",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout()) },
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON instead of text")
	f.BoolVar(&o.verify, "verify", false, "fully decode every image (finds damage in the middle of a file; slower)")
	f.IntVar(&o.maxMP, "max-mp", data.DefaultMaxPixels/1_000_000, "refuse images declaring more megapixels than this")
	return c
}

func (o *dataStatsOptions) run(pos []string, stdout io.Writer) error {
	if len(pos) != 1 {
		return usagef("want exactly one image folder, got %d arguments", len(pos))
	}
	if o.maxMP < 1 {
		return usagef("--max-mp must be positive")
	}
	ds, err := data.Scan(pos[0], data.ScanOptions{MaxPixels: o.maxMP * 1_000_000, Verify: o.verify})
	if err != nil && !errors.Is(err, data.ErrNoImages) {
		return err
	}
	// A folder of only broken files still gets its report, then fails.
	st := data.Summarize(ds)
	if o.json {
		if werr := writeJSON(stdout, st); werr != nil {
			return werr
		}
	} else if werr := st.WriteText(stdout); werr != nil {
		return werr
	}
	return err
}

type dataSynthOptions struct {
	classes, perClass, size int
	seed                    uint64
}

// newDataSynthCmd is `starid data synth DIR`: a generated ImageFolder of
// coloured shapes, the built-in data set for trying starid without photos.
func newDataSynthCmd() *cobra.Command {
	var o dataSynthOptions
	c := &cobra.Command{
		Use:   "synth DIR",
		Short: "write a generated folder of coloured shapes, one sub-folder per shape",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout()) },
	}
	f := c.Flags()
	f.IntVar(&o.classes, "classes", 4, fmt.Sprintf("number of shape classes (2..%d)", len(data.SynthShapes)))
	f.IntVar(&o.perClass, "per-class", 40, "images per class")
	f.IntVar(&o.size, "size", 64, "image width and height in pixels")
	f.Uint64Var(&o.seed, "seed", 1, "random seed (same seed, same images)")
	return c
}

func (o *dataSynthOptions) run(pos []string, stdout io.Writer) error {
	if len(pos) != 1 {
		return usagef("want exactly one output folder, got %d arguments", len(pos))
	}
	if err := data.CheckEmptyFolder(pos[0]); err != nil {
		return err
	}
	if err := data.Synthesize(pos[0], o.classes, o.perClass, o.size, o.seed); err != nil {
		// A file that cannot be written is the folder's fault, not the flags'.
		if errors.As(err, new(*os.PathError)) {
			return err
		}
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "wrote %d images of %d shapes to %s\n", o.classes*o.perClass, o.classes, pos[0])
	return nil
}
