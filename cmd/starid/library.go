package main

import (
	"github.com/spf13/cobra"

	"starid/internal/library"
)

// The photo library's commands: flags bound to internal/library's command
// structs, whose Run checks, calls and prints.

func init() { addCommand(newIndexCmd, newPeopleCmd, newSearchCmd, newVerifyCmd) }

// newLibraryDescriber describes photos; tests substitute a fake pipeline.
var newLibraryDescriber library.NewDescriberFunc = library.InstalledDescriber

// libraryCmd is a command whose run gets a context Ctrl-C cancels.
func libraryCmd(use, short string, r library.Runner) *cobra.Command {
	return command(use, short, func(c *cobra.Command, args []string) error {
		ctx, stop := interruptible()
		defer stop()
		return r.Run(ctx, args, c.OutOrStdout(), c.ErrOrStderr())
	})
}

func newIndexCmd() *cobra.Command {
	o := &library.IndexCommand{NewDescriber: newLibraryDescriber}
	c := libraryCmd("index DIR|PHOTO...", "index folders of photos into the library, grouping their faces into people", o)
	f := c.Flags()
	f.StringVar(&o.DB, "db", "", library.DBHelp)
	f.StringVar(&o.RunDir, "run", "", "a face run `folder` whose model names the faces it knows (the others stay unnamed)")
	workersFlag(f, &o.Workers, "photo-describing")
	detectorFlag(f, &o.Detector)
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON (docs/cli.md)")
	return c
}

func newPeopleCmd() *cobra.Command {
	o := &library.PeopleCommand{}
	c := libraryCmd("people", "list the library's people; name, merge, split or forget to correct them", o)
	c.PersistentFlags().StringVar(&o.DB, "db", "", library.DBHelp)
	c.Flags().BoolVar(&o.JSON, "json", false, "print the people as JSON (docs/cli.md)")
	c.Flags().StringVar(&o.Sheet, "sheet", "", "also draw a contact sheet: a PNG `file` with a row of face thumbnails per person")
	for _, d := range library.Decisions {
		c.AddCommand(libraryCmd(d.Action+" "+d.Args, d.Short, o.Decide(d.Action)))
	}
	return c
}

func newSearchCmd() *cobra.Command {
	o := &library.SearchCommand{NewDescriber: newLibraryDescriber}
	c := libraryCmd("search (--person NAME | --like PHOTO)", "the library's photos of a person, or of the person in a photo, nearest first", o)
	f := c.Flags()
	f.StringVar(&o.DB, "db", "", library.DBHelp)
	f.StringVar(&o.Person, "person", "", "the photos of this named person (`NAME`)")
	f.StringVar(&o.Like, "like", "", "the photos of the person in this `photo` (its main face)")
	detectorFlag(f, &o.Detector)
	f.IntVar(&o.Top, "top", 20, "how many photos")
	f.BoolVar(&o.JSON, "json", false, "print JSON (docs/cli.md)")
	f.BoolVar(&o.CSV, "csv", false, "print CSV, one row per photo")
	return c
}

func newVerifyCmd() *cobra.Command {
	o := &library.VerifyCommand{NewDescriber: newLibraryDescriber}
	c := libraryCmd("verify PHOTO_A PHOTO_B", "whether two photos show the same person (their main faces)", o)
	c.Flags().BoolVar(&o.JSON, "json", false, `print {"same": ..., "distance": ..., "threshold": ...}`)
	detectorFlag(c.Flags(), &o.Detector)
	return c
}
