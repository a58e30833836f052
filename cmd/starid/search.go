package main

import (
	"io"

	"github.com/spf13/cobra"

	"starid/internal/library"
)

func init() { addCommand(newSearchCmd) }

type searchOptions struct {
	db, person, like string
	top              int
	json, csv        bool
}

func newSearchCmd() *cobra.Command {
	var o searchOptions
	c := &cobra.Command{
		Use:   "search (--person NAME | --like PHOTO)",
		Short: "the library's photos of a person, or of the person in a photo, nearest first",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout()) },
	}
	f := c.Flags()
	dbFlag(f, &o.db)
	f.StringVar(&o.person, "person", "", "the photos of this named person (`NAME`)")
	f.StringVar(&o.like, "like", "", "the photos of the person in this `photo` (its main face)")
	f.IntVar(&o.top, "top", 20, "how many photos")
	f.BoolVar(&o.json, "json", false, "print JSON (docs/cli.md)")
	f.BoolVar(&o.csv, "csv", false, "print CSV, one row per photo")
	return c
}

func (o *searchOptions) run(args []string, stdout io.Writer) error {
	switch {
	case len(args) > 0:
		return usagef("unexpected argument %q (give the photo with --like)", args[0])
	case (o.person == "") == (o.like == ""):
		return usagef("give --person NAME or --like PHOTO")
	case o.json && o.csv:
		return usagef("--json and --csv: choose one")
	case o.top < 1:
		return usagef("--top %d: want at least 1", o.top)
	}
	opt := library.SearchOptions{Person: o.person, Like: o.like, Top: o.top}
	var err error
	if o.like != "" {
		if opt.Describer, _, err = newLibraryDescriber("", false); err != nil {
			return err
		}
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := library.OpenOrDefault(ctx, o.db)
	if err != nil {
		return err
	}
	defer s.Close()
	ms, err := library.SearchPhotos(ctx, s, opt)
	switch {
	case err != nil:
		return err
	case o.json:
		return writeJSON(stdout, map[string]any{"matches": ms})
	case o.csv:
		return ms.WriteCSV(stdout)
	}
	ms.WriteText(stdout)
	return nil
}
