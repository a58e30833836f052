package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"starid/internal/data"
)

func init() {
	register("data", "look at an image folder: stats (counts, sizes, broken files, duplicates), grid, or synth (a generated folder)", runData)
}

const dataUsage = "data stats DIR [--json] [--verify] [--max-mp 50] | data grid DIR [--class NAME] [--out grid.png] [--cols 4] [--rows 3] | data synth DIR [--classes 4] [--per-class 40] [--size 64] [--seed 1]"

// runData dispatches `starid data SUB ...`; the grid lives in datagrid.go.
func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "Usage: starid %s\n", dataUsage)
		return usagef("missing sub-command: stats, grid or synth")
	}
	switch args[0] {
	case "stats":
		return runDataStats(args[1:], stdout, stderr)
	case "grid":
		return runDataGrid(args[1:], stdout, stderr)
	case "synth":
		return runDataSynth(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stderr, "Usage: starid %s\n", dataUsage)
		return nil
	}
	return usagef("unknown sub-command %q (want stats, grid or synth)", args[0])
}

// runDataStats is `starid data stats DIR [--json] [--verify]`.
func runDataStats(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data stats", "data stats DIR [--json] [--verify]", stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	verify := fs.Bool("verify", false, "fully decode every image (finds damage in the middle of a file; slower)")
	maxMP := fs.Int("max-mp", data.DefaultMaxPixels/1_000_000, "refuse images declaring more megapixels than this")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one image folder, got %d arguments", len(pos))
	}
	if *maxMP < 1 {
		return usagef("--max-mp must be positive")
	}
	ds, err := data.Scan(pos[0], data.ScanOptions{MaxPixels: *maxMP * 1_000_000, Verify: *verify})
	if err != nil && !errors.Is(err, data.ErrNoImages) {
		return err
	}
	// A folder of only broken files still gets its report, then fails.
	st := data.Summarize(ds)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(st); werr != nil {
			return werr
		}
	} else if werr := st.WriteText(stdout); werr != nil {
		return werr
	}
	return err
}

// runDataSynth is `starid data synth DIR`: a generated ImageFolder of
// coloured shapes, the built-in data set for trying starid without photos.
func runDataSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data synth", "data synth DIR [--classes 4] [--per-class 40] [--size 64] [--seed 1]", stderr)
	classes := fs.Int("classes", 4, fmt.Sprintf("number of shape classes (2..%d)", len(data.SynthShapes)))
	perClass := fs.Int("per-class", 40, "images per class")
	size := fs.Int("size", 64, "image width and height in pixels")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same images)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one output folder, got %d arguments", len(pos))
	}
	if err := checkEmptyTarget(pos[0]); err != nil {
		return err
	}
	if err := data.Synthesize(pos[0], *classes, *perClass, *size, *seed); err != nil {
		// A file that cannot be written is the folder's fault, not the flags'.
		if errors.As(err, new(*os.PathError)) {
			return err
		}
		return usagef("%v", err)
	}
	fmt.Fprintf(stdout, "wrote %d images of %d shapes to %s\n", *classes**perClass, *classes, pos[0])
	return nil
}

// checkEmptyTarget accepts a folder that does not exist yet or is empty.
// synth must never write into a folder that holds anything: it would
// overwrite earlier shapes or, worse, mix them into someone's photos.
func checkEmptyTarget(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a folder; give a new folder to write the images into", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty (it has %s); synth writes only into a new or empty folder, so it never overwrites or mixes with other images",
			dir, entries[0].Name())
	}
	return nil
}
