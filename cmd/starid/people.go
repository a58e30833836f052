package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/library"
)

func init() { addCommand(newPeopleCmd) }

type peopleOptions struct {
	db, sheet string
	json      bool
}

// newPeopleCmd lists the library's people; its sub-commands are the
// user's decisions (library.Decisions), which share --db.
func newPeopleCmd() *cobra.Command {
	var o peopleOptions
	c := &cobra.Command{
		Use:   "people",
		Short: "list the library's people; name, merge, split or forget to correct them",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout()) },
	}
	dbFlag(c.PersistentFlags(), &o.db)
	c.Flags().BoolVar(&o.json, "json", false, "print the people as JSON (docs/cli.md)")
	c.Flags().StringVar(&o.sheet, "sheet", "", "also draw a contact sheet: a PNG `file` with a row of face thumbnails per person")
	for _, d := range library.Decisions {
		c.AddCommand(&cobra.Command{Use: d.Action + " " + d.Args, Short: d.Short, RunE: func(c *cobra.Command, args []string) error {
			return decide(d.Action, args, o.db, c.OutOrStdout())
		}})
	}
	return c
}

func (o *peopleOptions) run(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		var names []string
		for _, d := range library.Decisions {
			names = append(names, d.Action)
		}
		return usagef("unknown sub-command %q (want %s)", args[0], strings.Join(names, ", "))
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := library.OpenOrDefault(ctx, o.db)
	if err != nil {
		return err
	}
	defer s.Close()
	ps, err := library.ListPeople(ctx, s)
	if err != nil {
		return err
	}
	if o.sheet != "" {
		if err := library.Sheet(ctx, ps, o.sheet, library.SheetOptions{}); err != nil {
			return fmt.Errorf("--sheet %s: %w", o.sheet, err)
		}
	}
	if o.json {
		return writeJSON(stdout, library.ToPeopleList(ps))
	}
	ps.WriteText(stdout)
	return nil
}

// decide makes one of the user's decisions and says what it did.
func decide(action string, args []string, db string, stdout io.Writer) error {
	d, err := library.ParseDecision(action, args)
	if err != nil {
		return usagef("%v", err)
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := library.OpenOrDefault(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	msg, err := s.Decide(ctx, d)
	if err == nil {
		fmt.Fprintln(stdout, msg)
	}
	return err
}
