package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/library"
	"starid/internal/recognize"
)

// The photo library's commands: flags and printing only; each command is
// one function of internal/library.

func init() {
	register("index", "index folders of photos into the library (index DIR... [--db DB] [--run RUN] [--workers N] [--json])", runIndex)
	register("people", "list the library's people, or name/merge/split/forget (people [--db DB] [--json] [--sheet OUT.png])", runPeople)
	register("search", "photos of a person, or of the person in a photo (search (--person NAME | --like PHOTO) [--top K] [--json|--csv])", runSearch)
	register("verify", "whether two photos show the same person (verify PHOTO_A PHOTO_B [--json])", runVerify)
}

// newLibraryDescriber makes the library's describer: the face pipeline from the
// fetched models, naming faces with the run in runDir when given; mirror
// averages each descriptor with its mirror image's (verify). Tests
// substitute a fake.
var newLibraryDescriber = func(runDir string, mirror bool) (library.Describer, string, error) {
	d := &library.PipelineDescriber{Mirror: mirror, Load: func() (recognize.Finder, error) {
		dir, err := faces.ModelDir()
		if err != nil {
			return nil, err
		}
		return faces.LoadPipeline(dir)
	}}
	if runDir != "" {
		r, err := recognize.Open(runDir, recognize.Options{})
		if err != nil {
			return nil, "", err
		}
		d.Namer = r
	}
	return d, d.Version(), nil
}

// dbFlag adds --db, whose default is the user's library.
func dbFlag(fs interface {
	String(name, value, usage string) *string
}) *string {
	return fs.String("db", "", "the library: a SQLite file or a postgres:// URL (default $"+library.EnvDB+", else library.db in the user's data folder)")
}

// openLibrary opens --db, or the default library.
func openLibrary(ctx context.Context, db string) (*library.Store, error) {
	if db == "" {
		var err error
		if db, err = library.DefaultLocation(); err != nil {
			return nil, err
		}
	}
	return library.Open(ctx, db)
}

// interruptible is a context cancelled by Ctrl-C, so an index run stops
// between photos (each photo's faces are committed whole).
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func runIndex(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("index", "index DIR... [--db DB] [--run RUN] [--workers N] [--json]", stderr)
	db := dbFlag(fs)
	run := fs.String("run", "", "a run folder whose model names the faces it knows (unknown faces stay unnamed)")
	workers := fs.Int("workers", 0, "photos described at once (0: one per core)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	roots, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(roots) == 0 {
		return usagef("want at least one folder or photo to index")
	}
	if *workers < 0 {
		return usagef("--workers %d: want 0 (one per core) or more", *workers)
	}
	d, version, err := newLibraryDescriber(*run, false)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := openLibrary(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	opt := library.IndexOptions{Roots: roots, Describer: d, Pipeline: version, Workers: *workers}
	bar := &progressBar{w: stderr, start: time.Now()}
	if isTerminal(stderr) {
		opt.Progress = bar.show
	}
	res, err := library.IndexFolders(ctx, s, opt)
	bar.finish()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: every photo described so far is kept; the same command finishes the rest")
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "%s: %d photos (%d new, %d changed, %d moved, %d removed); %d described, %d faces; %d people (%d new)\n",
		res.Library, res.Seen, res.Added, res.Changed, res.Moved, res.Removed, res.Described, res.Faces, res.People, res.NewPeople)
	if len(res.Bad) > 0 {
		fmt.Fprintf(stderr, "%d photos could not be described and were skipped:\n", len(res.Bad))
		for _, b := range res.Bad {
			fmt.Fprintf(stderr, "  %s: %s\n", data.ShowPath(b.Path), b.Error)
		}
	}
	return nil
}

// progressBar redraws one line: photos done, share, and the time left at
// the pace so far.
type progressBar struct {
	w     io.Writer
	start time.Time
	drawn bool
}

func (p *progressBar) show(done, total int) {
	const width = 30
	filled := width * done / max(total, 1)
	eta := "?"
	if done > 0 {
		left := time.Duration(float64(time.Since(p.start)) * float64(total-done) / float64(done))
		eta = left.Round(time.Second).String()
	}
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\rindexing [%s] %d/%d photos, %s left  ", bar, done, total, eta)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runPeople(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("people", "people [name ID NAME | merge ID ID | split FACE_ID | forget FACE_ID] [--db DB] [--json] [--sheet OUT.png]", stderr)
	db := dbFlag(fs)
	asJSON := fs.Bool("json", false, "print the people as JSON")
	sheet := fs.String("sheet", "", "also draw a contact sheet PNG: one row of face thumbnails per person")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	if len(pos) > 0 {
		return peopleDecision(ctx, *db, pos, stdout)
	}
	s, err := openLibrary(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	ps, err := library.ListPeople(ctx, s)
	if err != nil {
		return err
	}
	if *sheet != "" {
		if err := library.Sheet(ctx, ps, *sheet, library.SheetOptions{}); err != nil {
			return fmt.Errorf("--sheet %s: %w", *sheet, err)
		}
	}
	if *asJSON {
		return writeJSON(stdout, library.ToPeopleList(ps))
	}
	for _, p := range ps {
		name := strconv.Quote(p.Name)
		if p.Name == "" {
			name = "(unnamed)"
		}
		fmt.Fprintf(stdout, "person %d %s: %d faces\n", p.ID, name, len(p.Faces))
		for _, f := range p.Faces {
			fmt.Fprintf(stdout, "  face %d  %s\n", f.ID, data.ShowPath(f.Photo))
		}
	}
	return nil
}

// peopleDecision runs people name/merge/split/forget.
func peopleDecision(ctx context.Context, db string, pos []string, stdout io.Writer) error {
	want := map[string]int{"name": 3, "merge": 3, "split": 2, "forget": 2}
	n, ok := want[pos[0]]
	if !ok {
		return usagef("unknown people action %q: want name, merge, split or forget", pos[0])
	}
	if len(pos) != n {
		return usagef("people %s: want %d arguments, got %d", pos[0], n-1, len(pos)-1)
	}
	what := "person"
	if pos[0] == "split" || pos[0] == "forget" {
		what = "face"
	}
	a, err := library.ParseID(what, pos[1])
	if err != nil {
		return usageError{err.Error()}
	}
	s, err := openLibrary(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	switch pos[0] {
	case "name":
		err = s.Name(ctx, a, pos[2])
		if err == nil {
			fmt.Fprintf(stdout, "person %d is %q\n", a, pos[2])
		}
	case "merge":
		var b int64
		if b, err = library.ParseID("person", pos[2]); err != nil {
			return usageError{err.Error()}
		}
		if err = s.Merge(ctx, a, b); err == nil {
			fmt.Fprintf(stdout, "person %d merged into person %d\n", b, a)
		}
	case "split":
		var p int64
		if p, err = s.Split(ctx, a); err == nil {
			fmt.Fprintf(stdout, "face %d is now person %d\n", a, p)
		}
	case "forget":
		if err = s.Forget(ctx, a); err == nil {
			fmt.Fprintf(stdout, "face %d forgotten: no person, never regrouped\n", a)
		}
	}
	return err
}

func runSearch(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("search", "search (--person NAME | --like PHOTO) [--top K] [--db DB] [--json | --csv]", stderr)
	db := dbFlag(fs)
	person := fs.String("person", "", "the photos of this named person")
	like := fs.String("like", "", "the photos of the person in this photo (its main face)")
	top := fs.Int("top", 20, "how many photos")
	asJSON := fs.Bool("json", false, "print JSON")
	asCSV := fs.Bool("csv", false, "print CSV")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q (give the photo with --like)", pos[0])
	case (*person == "") == (*like == ""):
		return usagef("give --person NAME or --like PHOTO")
	case *asJSON && *asCSV:
		return usagef("--json and --csv exclude each other")
	case *top < 1:
		return usagef("--top %d: want at least 1", *top)
	}
	opt := library.SearchOptions{Person: *person, Like: *like, Top: *top}
	if *like != "" {
		if opt.Describer, _, err = newLibraryDescriber("", false); err != nil {
			return err
		}
	}
	ctx, stop := interruptible()
	defer stop()
	s, err := openLibrary(ctx, *db)
	if err != nil {
		return err
	}
	defer s.Close()
	ms, err := library.SearchPhotos(ctx, s, opt)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []library.PhotoMatch{}
	}
	switch {
	case *asJSON:
		return writeJSON(stdout, map[string]any{"matches": ms})
	case *asCSV:
		return writeMatchesCSV(stdout, ms)
	}
	for i, m := range ms {
		who := m.Person
		switch {
		case who == "" && m.PersonID != "":
			who = "person " + m.PersonID
		case who == "":
			who = "-"
		}
		fmt.Fprintf(stdout, "%3d  %.3f  %-20s %s\n", i+1, m.Distance, who, data.ShowPath(m.Photo))
	}
	return nil
}

func writeMatchesCSV(w io.Writer, ms []library.PhotoMatch) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"rank", "image", "face", "distance", "person_id", "person", "x", "y", "w", "h"})
	for i, m := range ms {
		row := []string{strconv.Itoa(i + 1), m.Photo, m.FaceID, strconv.FormatFloat(m.Distance, 'f', 4, 64), m.PersonID, m.Person}
		for _, v := range m.Box {
			row = append(row, strconv.FormatFloat(v, 'f', 1, 64))
		}
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func runVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", "verify PHOTO_A PHOTO_B [--json]", stderr)
	asJSON := fs.Bool("json", false, `print {"same": ..., "distance": ..., "threshold": ...}`)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want two photos, got %d", len(pos))
	}
	d, _, err := newLibraryDescriber("", library.VerifyMirrored)
	if err != nil {
		return err
	}
	ctx, stop := interruptible()
	defer stop()
	v, err := library.VerifyPhotos(ctx, d, pos[0], pos[1], 0)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, v)
	}
	verdict := "different people"
	if v.Same {
		verdict = "same person"
	}
	fmt.Fprintf(stdout, "%s (distance %.3f, threshold %.3f)\n", verdict, v.Distance, v.Threshold)
	return nil
}
