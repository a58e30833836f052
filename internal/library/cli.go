package library

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"starid/internal/cli"
	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/recognize"
)

// This file holds what the command line needs beyond the commands
// themselves (commands.go): opening the library and the describer it
// names, and the text and CSV forms of the results, so cmd/starid only
// binds flags, calls and prints.

// OpenOrDefault opens location, or the user's library (DefaultLocation)
// when location is "".
func OpenOrDefault(ctx context.Context, location string) (*Store, error) {
	if location == "" {
		var err error
		if location, err = DefaultLocation(); err != nil {
			return nil, err
		}
	}
	return Open(ctx, location)
}

// InstalledDescriber is the describer of the installed face models
// (`starid models fetch`), naming faces with the run in runDir, or with
// the default model when runDir is empty;
// mirror averages each descriptor with its mirror image's (verify does),
// and det is the face detector.
// It returns the describer's version for IndexOptions.Pipeline. The
// models are read at the first photo, so commands that describe nothing
// work without them.
func InstalledDescriber(runDir string, mirror bool, det faces.DetectorChoice) (Describer, string, error) {
	d := &PipelineDescriber{Mirror: mirror, Detector: det, Load: func() (recognize.Finder, error) {
		p, err := faces.LoadInstalledWith(det)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return p, nil
	}}
	// Without a run the default model names faces (the built-in 17 stars,
	// or the user's copy of it), as every other command does; faces it does
	// not know stay unnamed for grouping.
	open := func() (recognize.Recognizer, error) { return recognize.OpenDefault(recognize.Options{}) }
	if runDir != "" {
		open = func() (recognize.Recognizer, error) { return recognize.Open(runDir, recognize.Options{}) }
	}
	r, err := open()
	if err != nil {
		return nil, "", err
	}
	d.Namer = r
	return d, d.Version(), nil
}

// interruptedError is an index run stopped by its context: what was
// described is committed photo by photo, so the message says so.
type interruptedError struct{ err error }

func (e interruptedError) Error() string {
	return "interrupted: every photo described so far is kept; the same command finishes the rest"
}
func (e interruptedError) Unwrap() error { return e.err }

// WriteText prints the run's summary on w and what it could not take on
// errs.
func (r *IndexResult) WriteText(w, errs io.Writer) {
	fmt.Fprintf(w, "%s: %s (%d new, %d changed): %d described with %s, %d unchanged, %d moved, %d removed, %d failed; %s (%d new)\n",
		r.Library, plural(r.Seen, "photo", "photos"), r.Added, r.Changed, r.Described, plural(r.Faces, "face", "faces"),
		r.Unchanged, r.Moved, r.Removed, len(r.Failed), plural(r.People, "person", "people"), r.NewPeople)
	if len(r.Failed) > 0 {
		fmt.Fprintf(errs, "%s not indexed:\n", plural(len(r.Failed), "photo or folder was", "photos or folders were"))
		for _, b := range r.Failed {
			fmt.Fprintf(errs, "  %s: %s\n", data.ShowPath(b.Path), b.Error)
		}
	}
}

// PartialError is an index run that finished but could not take some
// photos: the command line exits 2 for it, as predict does when one of
// its photos fails, after printing the summary.
type PartialError struct{ Failed int }

func (e PartialError) Error() string {
	return plural(e.Failed, "photo or folder", "photos or folders") + " could not be indexed; the rest are in the library"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// People is the library's people as ListPeople gives them.
type People []Person

// WriteText lists each person and the photos of their faces.
func (ps People) WriteText(w io.Writer) {
	for _, p := range ps {
		name := strconv.Quote(p.Name)
		if p.Name == "" {
			name = "(unnamed)"
		}
		fmt.Fprintf(w, "person %d %s: %s\n", p.ID, name, plural(len(p.Faces), "face", "faces"))
		for _, f := range p.Faces {
			fmt.Fprintf(w, "  face %d  %s\n", f.ID, data.ShowPath(f.Photo))
		}
	}
}

// Matches is what SearchPhotos found, nearest first.
type Matches []PhotoMatch

// WriteText prints a line per photo: rank, distance, person, path.
// Unnamed people show as their id, faces in no person as "-".
func (ms Matches) WriteText(w io.Writer) {
	for i, m := range ms {
		who := m.Person
		switch {
		case who == "" && m.PersonID != "":
			who = "person " + m.PersonID
		case who == "":
			who = "-"
		}
		fmt.Fprintf(w, "%3d  %.3f  %-20s %s\n", i+1, m.Distance, who, data.ShowPath(m.Photo))
	}
}

// WriteCSV prints a header and a row per photo, with the JSON's fields.
func (ms Matches) WriteCSV(w io.Writer) error {
	c := cli.NewCSV(w)
	c.Row("rank", "image", "face", "distance", "person_id", "person", "x", "y", "w", "h")
	for i, m := range ms {
		row := []any{i + 1, m.Photo, m.FaceID, cli.Float(m.Distance, 4), m.PersonID, m.Person}
		for _, v := range m.Box {
			row = append(row, cli.Float(v, 1))
		}
		c.Row(row...)
	}
	return c.Flush()
}

// WriteText prints the verdict in words, with the distance and threshold.
func (v Verdict) WriteText(w io.Writer) {
	verdict := "different people"
	if v.Same {
		verdict = "same person"
	}
	fmt.Fprintf(w, "%s (distance %.3f, threshold %.3f)\n", verdict, v.Distance, v.Threshold)
	for i, n := range v.Faces {
		if n > 1 {
			fmt.Fprintf(w, "note: the %s photo has %d faces; its main face (the largest of the surest) was compared\n",
				[]string{"first", "second"}[i], n)
		}
	}
}

// Decision is a user's correction of the grouping (`people name`,
// `merge`, `split`, `forget`), which grouping never undoes.
type Decision struct {
	Action string // name, merge, split or forget
	ID     int64  // the person (name, merge) or the face (split, forget)
	Other  int64  // merge: the person merged into ID
	Name   string // name: the person's name
}

// DecisionForm is one decision's arguments and meaning, for help.
type DecisionForm struct{ Action, Args, Short string }

// Decisions lists the decisions a user can make.
var Decisions = []DecisionForm{
	{"name", "ID NAME", "name a person: its faces, and later photos of it, carry the name"},
	{"merge", "ID ID", "merge the second person into the first"},
	{"split", "FACE_ID", "take a face out of its person into a new person of its own"},
	{"forget", "FACE_ID", "take a face out of every person, never to be grouped again"},
}

// ParseDecision reads a decision's command-line arguments; every error it
// returns is in the caller's wording (the library is not read).
func ParseDecision(action string, args []string) (Decision, error) {
	want := map[string]int{"name": 2, "merge": 2, "split": 1, "forget": 1}
	n, ok := want[action]
	if !ok {
		return Decision{}, fmt.Errorf("unknown decision %q (want name, merge, split or forget)", action)
	}
	if len(args) != n {
		return Decision{}, fmt.Errorf("want %s, got %d", plural(n, "argument", "arguments"), len(args))
	}
	what := "person"
	if action == "split" || action == "forget" {
		what = "face"
	}
	d := Decision{Action: action}
	var err error
	if d.ID, err = ParseID(what, args[0]); err == nil && action == "merge" {
		d.Other, err = ParseID("person", args[1])
	}
	if err != nil {
		return Decision{}, err
	}
	if action == "merge" && d.ID == d.Other {
		return Decision{}, fmt.Errorf("person %d merged with itself: give two different people", d.ID)
	}
	if action == "name" {
		d.Name = args[1]
	}
	return d, nil
}

// Decide applies d and says what it did, in a sentence.
func (s *Store) Decide(ctx context.Context, d Decision) (string, error) {
	switch d.Action {
	case "name":
		return fmt.Sprintf("person %d is %q", d.ID, d.Name), s.Name(ctx, d.ID, d.Name)
	case "merge":
		return fmt.Sprintf("person %d merged into person %d", d.Other, d.ID), s.Merge(ctx, d.ID, d.Other)
	case "split":
		p, err := s.Split(ctx, d.ID)
		return fmt.Sprintf("face %d is now person %d", d.ID, p), err
	case "forget":
		return fmt.Sprintf("face %d forgotten: no person, never regrouped", d.ID), s.Forget(ctx, d.ID)
	}
	return "", fmt.Errorf("library: unknown decision %q", d.Action)
}
