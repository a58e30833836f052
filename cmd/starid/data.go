package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"starid/internal/data"
)

func init() {
	register("data", "look at an image folder: stats (counts, sizes, broken files, duplicates) or grid", runData)
}

const dataUsage = "data stats DIR [--json] [--verify] | data grid DIR [--class NAME] --out F.png"

// runData dispatches `starid data SUB ...`; the grid lives in datagrid.go.
func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "Usage: starid %s\n", dataUsage)
		return usagef("missing sub-command: stats or grid")
	}
	switch args[0] {
	case "stats":
		return runDataStats(args[1:], stdout, stderr)
	case "grid":
		return runDataGrid(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stderr, "Usage: starid %s\n", dataUsage)
		return nil
	}
	return usagef("unknown sub-command %q (want stats or grid)", args[0])
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
