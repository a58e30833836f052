package library

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"starid/internal/identify"
)

// MaxNameRunes bounds a person's name: a pasted paragraph is a mistake,
// and every listing, CSV and log line carries the name.
const MaxNameRunes = 200

// CheckName refuses a name a person cannot have and returns it trimmed:
// empty, not UTF-8, too long, or holding control characters (a newline
// would split a listing's line, a NUL corrupt a CSV). The store checks
// here so the command line and the HTTP API refuse the same names.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", errors.New("empty name (use forget or split to undo a grouping)")
	case !utf8.ValidString(name):
		return "", errors.New("the name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxNameRunes:
		return "", fmt.Errorf("the name is longer than %d characters", MaxNameRunes)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return "", fmt.Errorf("the name %q holds control characters", name)
		}
	}
	return name, nil
}

// LookAlikeError is a name the user gives that differs from a person's
// only in case, spacing or character forms ("jim carrey" beside "Jim
// Carrey"): most likely the same person typed another way, which would
// otherwise split them in two.
type LookAlikeError struct {
	Name, Known string
	Person      int64 // the person called Known
}

func (e *LookAlikeError) Error() string {
	return fmt.Sprintf("person %d is already %q, which differs only in case, spacing or character forms; "+
		"give exactly %q to make them one person, or a clearly different name", e.Person, e.Known, e.Known)
}

// checkLookAlike refuses name when a person other than except has a
// look-alike name (see LookAlikeError); the same name is not refused.
func (s *Store) checkLookAlike(ctx context.Context, db execer, name string, except int64) error {
	rows, err := db.QueryContext(ctx, s.q(`SELECT id, name FROM people WHERE name <> '' AND name <> ? AND id <> ? ORDER BY id`), name, except)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var known string
		if err := rows.Scan(&id, &known); err != nil {
			return err
		}
		if identify.SameName(known, name) {
			return &LookAlikeError{Name: name, Known: known, Person: id}
		}
	}
	return rows.Err()
}
