package library

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/cli"
	"starid/internal/faces"
	"starid/internal/progress"
)

// The library's commands as the command line runs them: each XCommand
// holds the command's flags (cmd/starid binds them) and its Run checks
// the arguments, calls the command's function (commands.go) and prints,
// so cmd/starid is flag binding only.

// UsageError is a mistake in the command line (flags, arguments) as
// opposed to a problem with the library or the photos.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// NewDescriberFunc makes the describer of photos: InstalledDescriber, or a
// fake in tests.
type NewDescriberFunc func(runDir string, mirror bool, det faces.DetectorChoice) (Describer, string, error)

// Runner is a command as the command line runs it.
type Runner interface {
	Run(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// DBHelp is the help of every command's --db flag.
const DBHelp = "the library: a SQLite `file` or a postgres:// URL (default $" + EnvDB + ", else library.db in the user's data folder)"

// RunFunc is a command's run as a function.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Run calls f.
func (f RunFunc) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return f(ctx, args, stdout, stderr)
}

// withStore runs fn on the library at db (the default one for ""),
// which index creates when it is missing.
func withStore(ctx context.Context, db string, fn func(s *Store) error) error {
	s, err := OpenOrDefault(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	return Explain(fn(s))
}

// withExistingStore is withStore for the commands that only read or
// correct a library (people, search): a mistyped --db must not quietly
// start a new, empty library there.
func withExistingStore(ctx context.Context, db string, fn func(s *Store) error) error {
	loc := db
	if loc == "" {
		var err error
		if loc, err = DefaultLocation(); err != nil {
			return err
		}
	}
	if !IsPostgres(loc) {
		if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no photo library at %s: make it with `starid index DIR --db %s`", loc, loc)
		}
	}
	s, err := Open(ctx, loc)
	if err != nil {
		return err
	}
	defer s.Close()
	return Explain(fn(s))
}

// writeJSON prints v indented, the form of every --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// IndexCommand is `starid index DIR|PHOTO...`.
type IndexCommand struct {
	DB, RunDir   string
	Workers      int
	JSON         bool
	Detector     faces.DetectorChoice // "": auto
	NewDescriber NewDescriberFunc
}

// Run indexes the folders or photos in args, with a progress bar on
// stderr when it is a terminal.
func (c *IndexCommand) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("want at least one folder or photo to index")
	}
	var err error
	if c.Workers, err = cli.Workers(c.Workers, stderr); err != nil {
		return err
	}
	d, version, err := c.NewDescriber(c.RunDir, false, c.Detector)
	if err != nil {
		return err
	}
	return withStore(ctx, c.DB, func(s *Store) error {
		bar := progress.New(stderr, 0, "indexing photos")
		res, err := IndexFolders(ctx, s, IndexOptions{Roots: args, Describer: d, Pipeline: version, Workers: c.Workers, Progress: bar.Func()})
		bar.Finish()
		if err != nil || c.JSON {
			err = orJSON(err, stdout, res)
		} else {
			res.WriteText(stdout, stderr)
		}
		if err == nil && len(res.Failed) > 0 {
			err = PartialError{len(res.Failed)}
		}
		return err
	})
}

// orJSON is err, or else v printed as JSON.
func orJSON(err error, w io.Writer, v any) error {
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

// PeopleCommand is `starid people`: the list, and the decisions (Decide)
// as its sub-commands.
type PeopleCommand struct {
	DB, Sheet string
	JSON      bool
}

// Run lists the people, drawing the contact sheet when asked.
func (c *PeopleCommand) Run(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		var names []string
		for _, d := range Decisions {
			names = append(names, d.Action)
		}
		return usagef("unknown sub-command %q (want %s)", args[0], strings.Join(names, ", "))
	}
	if c.Sheet != "" && !strings.EqualFold(filepath.Ext(c.Sheet), ".png") {
		return usagef("--sheet %s: the contact sheet is a PNG: give a file name ending in .png", c.Sheet)
	}
	return withExistingStore(ctx, c.DB, func(s *Store) error {
		ps, err := ListPeople(ctx, s)
		if err != nil {
			return err
		}
		if c.Sheet != "" {
			if err := Sheet(ctx, ps, c.Sheet, SheetOptions{}); err != nil {
				return fmt.Errorf("--sheet %s: %w", c.Sheet, err)
			}
		}
		if c.JSON {
			return writeJSON(stdout, ToPeopleList(ps))
		}
		ps.WriteText(stdout)
		return nil
	})
}

// Decide is the sub-command making one of Decisions; it reads c.DB when
// it runs, so the flag may follow the sub-command.
func (c *PeopleCommand) Decide(action string) RunFunc {
	return func(ctx context.Context, args []string, stdout, _ io.Writer) error {
		d, err := ParseDecision(action, args)
		if err != nil {
			return UsageError{err.Error()}
		}
		return withExistingStore(ctx, c.DB, func(s *Store) error {
			msg, err := s.Decide(ctx, d)
			if err == nil {
				fmt.Fprintln(stdout, msg)
			}
			return err
		})
	}
}

// SearchCommand is `starid search (--person NAME | --like PHOTO)`.
type SearchCommand struct {
	DB, Person, Like string
	Top              int
	JSON, CSV        bool
	Detector         faces.DetectorChoice // for --like; "": auto
	NewDescriber     NewDescriberFunc
}

// Run searches and prints the photos found, nearest first.
func (c *SearchCommand) Run(ctx context.Context, args []string, stdout, _ io.Writer) error {
	switch {
	case len(args) > 0:
		return usagef("unexpected argument %q (give the photo with --like)", args[0])
	case c.Person == "" && c.Like == "":
		return usagef("give --person NAME or --like PHOTO")
	case c.Person != "" && c.Like != "":
		return usagef("give --person NAME or --like PHOTO, not both")
	case c.JSON && c.CSV:
		return usagef("--json and --csv: choose one")
	case c.Top < 1:
		return usagef("--top %d: want at least 1", c.Top)
	}
	opt := SearchOptions{Person: c.Person, Like: c.Like, Top: c.Top}
	var err error
	if c.Like != "" {
		if opt.Describer, _, err = c.NewDescriber("", false, c.Detector); err != nil {
			return err
		}
	}
	return withExistingStore(ctx, c.DB, func(s *Store) error {
		ms, err := SearchPhotos(ctx, s, opt)
		switch {
		case err != nil || c.JSON:
			return orJSON(err, stdout, map[string]any{"matches": ms})
		case c.CSV:
			return ms.WriteCSV(stdout)
		}
		ms.WriteText(stdout)
		return nil
	})
}

// VerifyCommand is `starid verify PHOTO_A PHOTO_B`.
type VerifyCommand struct {
	JSON         bool
	Detector     faces.DetectorChoice // "": auto
	NewDescriber NewDescriberFunc
}

// Run compares the main faces of the two photos in args.
func (c *VerifyCommand) Run(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) != 2 {
		return usagef("want two photos, got %d", len(args))
	}
	d, _, err := c.NewDescriber("", VerifyMirrored, c.Detector)
	if err != nil {
		return err
	}
	v, err := VerifyPhotos(ctx, d, args[0], args[1], 0)
	if err != nil || c.JSON {
		return orJSON(err, stdout, v)
	}
	v.WriteText(stdout)
	return nil
}
