package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"starid/internal/faces"
)

func init() {
	register("models", "the pretrained face models: models fetch [--dir DIR] | models path", runModels)
}

const modelsUsage = "usage: starid models fetch [--dir DIR] | starid models path"

// runModels dispatches `starid models SUBCOMMAND`; fetch is the only one so
// far, and the sub-command keeps room for listing or verifying later.
func runModels(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "path" {
		// The folder every other command reads, checked complete, so
		// scripts can reach the sample photos: $(starid models path)/demo.
		if len(args) > 1 {
			return usagef("models path takes no arguments")
		}
		dir, err := faces.ModelDir()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, dir)
		return nil
	}
	if len(args) == 0 || args[0] != "fetch" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stderr, modelsUsage)
			return nil
		}
		return usagef(modelsUsage)
	}
	fs := newFlagSet("models fetch", "models fetch [--dir DIR]", stderr)
	dir := fs.String("dir", "", "folder for the models (default $"+faces.EnvModels+", else the user cache folder)")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("models fetch takes no arguments, got %q", pos)
	}
	if *dir == "" {
		if *dir, err = faces.DefaultDir(); err != nil {
			return err
		}
	}
	// Ctrl-C stops npm too, rather than leaving it running.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	res, err := faces.Fetch(ctx, *dir)
	if err != nil {
		return err
	}
	if len(res.Installed) == 0 {
		fmt.Fprintf(stdout, "face models: all %d files already in %s\n", len(res.Present), res.Dir)
	} else {
		fmt.Fprintf(stdout, "face models: installed %d files (%d already present) from %s into %s in %.1fs\n",
			len(res.Installed), len(res.Present), faces.PackageSpec, res.Dir, time.Since(start).Seconds())
	}
	if hint := modelsDirHint(res.Dir); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	return nil
}

// modelsDirHint is the note for a `models fetch --dir` that installed
// where the other commands will not look, or "" when they will.
func modelsDirHint(dir string) string {
	def, err := faces.DefaultDir()
	if err == nil && sameFolder(def, dir) {
		return ""
	}
	return fmt.Sprintf("note: the other commands look for the models in $%s, else the user cache folder; "+
		"set %s=%s for them to use this folder", faces.EnvModels, faces.EnvModels, dir)
}

// sameFolder compares two folder names after making them absolute and clean.
func sameFolder(a, b string) bool {
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == bb
}
