package main

import (
	"io"

	"github.com/spf13/cobra"

	"starid/internal/library"
	"starid/internal/progress"
)

func init() { addCommand(newIndexCmd) }

// newLibraryDescriber describes photos for the library commands; tests
// substitute a fake pipeline.
var newLibraryDescriber = library.InstalledDescriber

type indexOptions struct {
	db, runDir string
	workers    int
	json       bool
}

func newIndexCmd() *cobra.Command {
	var o indexOptions
	c := &cobra.Command{
		Use:   "index DIR|PHOTO...",
		Short: "index folders of photos into the library, grouping their faces into people",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
	f := c.Flags()
	dbFlag(f, &o.db)
	f.StringVar(&o.runDir, "run", "", "a face run `folder` whose model names the faces it knows (the others stay unnamed)")
	workersFlag(f, &o.workers, "photo-describing")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON (docs/cli.md)")
	return c
}

func (o *indexOptions) run(roots []string, stdout, stderr io.Writer) error {
	if len(roots) == 0 {
		return usagef("want at least one folder or photo to index")
	}
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	d, version, err := newLibraryDescriber(o.runDir, false)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := library.OpenOrDefault(ctx, o.db)
	if err != nil {
		return err
	}
	defer s.Close()
	bar := progress.New(stderr, 0, "indexing photos")
	res, err := library.IndexFolders(ctx, s, library.IndexOptions{Roots: roots, Describer: d, Pipeline: version, Workers: o.workers, Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(stdout, res)
	}
	res.WriteText(stdout, stderr)
	return nil
}
