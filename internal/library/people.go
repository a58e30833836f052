package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned for a person or face id the library lacks.
var ErrNotFound = errors.New("not found")

// Person is a group of faces, named or not.
type Person struct {
	ID    int64
	Name  string // "" until the user names it
	Faces []PersonFace
}

// PersonFace is a face of a person, with where to find it.
type PersonFace struct {
	ID     int64
	Photo  string     // the photo's path
	Box    [4]float64 // x, y, w, h
	Source string     // how it came to this person (Source* constants)
}

// People lists every person with faces (forgotten faces left out), named
// people first, then by size; faces by id.
func (s *Store) People(ctx context.Context) ([]Person, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT pe.id, pe.name, f.id, ph.path, f.x, f.y, f.w, f.h, a.source
FROM assignments a JOIN people pe ON pe.id = a.person_id JOIN faces f ON f.id = a.face_id JOIN photos ph ON ph.id = f.photo_id
ORDER BY pe.id, f.id`)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var p Person
		var f PersonFace
		if err := rows.Scan(&p.ID, &p.Name, &f.ID, &f.Photo, &f.Box[0], &f.Box[1], &f.Box[2], &f.Box[3], &f.Source); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != p.ID {
			out = append(out, p)
		}
		last := &out[len(out)-1]
		last.Faces = append(last.Faces, f)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sortPeople(out)
	return out, nil
}

// Name names a person: its faces become the user's decision (never moved
// by grouping) and new photos of it join it. Naming a person with a name
// another person has merges the two: the user says they are one; a name
// that only looks like another's is refused (LookAlikeError).
func (s *Store) Name(ctx context.Context, person int64, name string) error {
	name, err := CheckName(name)
	if err != nil {
		return fmt.Errorf("library: naming person %d: %w", person, err)
	}
	return s.userTx(ctx, fmt.Sprintf("naming person %d %q", person, name), func(tx *sql.Tx) error {
		if err := personExists(ctx, s, tx, person); err != nil {
			return err
		}
		var other int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM people WHERE name = ? AND id <> ? ORDER BY id LIMIT 1`), name, person).Scan(&other)
		if err == nil {
			return s.mergeTx(ctx, tx, other, person)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := s.checkLookAlike(ctx, tx, name, person); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE people SET name = ? WHERE id = ?`), name, person); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE assignments SET source = 'named' WHERE person_id = ? AND source = 'auto'`), person)
		return err
	})
}

// Merge moves every face of person from into person into (fixed there),
// keeping into's name, or from's when into has none, and drops from.
func (s *Store) Merge(ctx context.Context, into, from int64) error {
	if into == from {
		return fmt.Errorf("library: merging person %d with itself", into)
	}
	return s.userTx(ctx, fmt.Sprintf("merging person %d into %d", from, into), func(tx *sql.Tx) error {
		for _, p := range []int64{into, from} {
			if err := personExists(ctx, s, tx, p); err != nil {
				return err
			}
		}
		return s.mergeTx(ctx, tx, into, from)
	})
}

func (s *Store) mergeTx(ctx context.Context, tx *sql.Tx, into, from int64) error {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE people SET name = (SELECT name FROM people WHERE id = ?)
WHERE id = ? AND name = ''`), from, into); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE assignments SET person_id = ?, source = 'merged' WHERE person_id IN (?, ?)`), into, into, from); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM people WHERE id = ?`), from)
	return err
}

// Split takes a face out of its person into a new person of its own,
// fixed there; it returns the new person's id.
func (s *Store) Split(ctx context.Context, face int64) (int64, error) {
	var id int64
	err := s.userTx(ctx, fmt.Sprintf("splitting face %d", face), func(tx *sql.Tx) error {
		if err := faceExists(ctx, s, tx, face); err != nil {
			return err
		}
		var err error
		if id, err = s.insertID(ctx, tx, `INSERT INTO people (name) VALUES ('')`); err != nil {
			return err
		}
		return s.setAssignment(ctx, tx, face, sql.NullInt64{Int64: id, Valid: true}, SourceSplit)
	})
	return id, err
}

// Forget takes a face out of every person for good (a stranger in the
// background, a poster): grouping leaves it alone.
func (s *Store) Forget(ctx context.Context, face int64) error {
	return s.userTx(ctx, fmt.Sprintf("forgetting face %d", face), func(tx *sql.Tx) error {
		if err := faceExists(ctx, s, tx, face); err != nil {
			return err
		}
		return s.setAssignment(ctx, tx, face, sql.NullInt64{}, SourceForgotten)
	})
}

func (s *Store) setAssignment(ctx context.Context, tx *sql.Tx, face int64, person sql.NullInt64, source string) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, ?)
ON CONFLICT (face_id) DO UPDATE SET person_id = excluded.person_id, source = excluded.source`), face, person, source)
	if err != nil {
		return err
	}
	// A person left without faces and without a name is gone.
	_, err = tx.ExecContext(ctx, `DELETE FROM people WHERE name = '' AND id NOT IN
	(SELECT person_id FROM assignments WHERE person_id IS NOT NULL)`)
	return err
}

// userTx runs a user decision in one transaction, errors naming it.
func (s *Store) userTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	if err := s.inTx(ctx, fn); err != nil {
		return fmt.Errorf("library %s: %s: %w", s.Source, what, err)
	}
	return nil
}

func personExists(ctx context.Context, s *Store, tx *sql.Tx, id int64) error {
	return exists(ctx, s, tx, `SELECT count(*) FROM people WHERE id = ?`, id, "person")
}

func faceExists(ctx context.Context, s *Store, tx *sql.Tx, id int64) error {
	return exists(ctx, s, tx, `SELECT count(*) FROM faces WHERE id = ?`, id, "face")
}

func exists(ctx context.Context, s *Store, tx *sql.Tx, query string, id int64, what string) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.q(query), id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %d: %w", what, id, ErrNotFound)
	}
	return nil
}

// PersonByName is the id of the person with that name, or else with a
// name that differs from it only in case, spacing or character forms (as
// people type a name they read: "tom hanks").
func (s *Store) PersonByName(ctx context.Context, name string) (int64, error) {
	var id int64
	err := s.DB.QueryRowContext(ctx, s.q(`SELECT id FROM people WHERE name = ? ORDER BY id LIMIT 1`), strings.TrimSpace(name)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.checkLookAlike(ctx, s.DB, strings.TrimSpace(name), 0)
		if la := (*LookAlikeError)(nil); errors.As(err, &la) {
			return la.Person, nil
		}
		if err == nil {
			err = fmt.Errorf("person %q: %w", name, ErrNotFound)
		}
		return 0, fmt.Errorf("library %s: %w", s.Source, err)
	}
	return id, err
}

// nameFace gives a new face to the person called name, made when the
// library has none, as an automatic assignment: a run's answer, which a
// full regrouping may correct, unlike the user's decisions.
func (s *Store) nameFace(ctx context.Context, tx *sql.Tx, face int64, name string) error {
	if s.Dialect == Postgres {
		// Two indexers meeting a new name at once would make two people
		// of it: they take turns per name.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7316023, hashtext($1))`, name); err != nil {
			return err
		}
	}
	var person int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM people WHERE name = ? ORDER BY id LIMIT 1`), name).Scan(&person)
	if errors.Is(err, sql.ErrNoRows) {
		person, err = s.insertID(ctx, tx, `INSERT INTO people (name) VALUES (?)`, name)
	}
	if err != nil {
		return fmt.Errorf("naming face %d %q: %w", face, name, err)
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, 'auto')`), face, person)
	return err
}
