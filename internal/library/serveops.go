package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The server's view of the library: photos arriving one at a time through
// an upload rather than from a folder walk, a face named on its photo, and
// the look-ups a web page makes (a photo with its faces, a person's photos,
// a face's place for its thumbnail).

// LibFace is a stored face with its person.
type LibFace struct {
	ID       int64
	PhotoID  int64
	Box      [4]float64
	PersonID int64  // 0: no person (not grouped yet, or forgotten)
	Person   string // "" when the person is unnamed
	Source   string // "" without an assignment
}

// PhotoFaces is a photo and its faces, by face id.
type PhotoFaces struct {
	ID    int64
	Path  string
	Faces []LibFace
}

// PhotoByHash is the id of a photo with that content already described by
// pipeline, so an upload sent twice is not described twice.
func (s *Store) PhotoByHash(ctx context.Context, hash, pipeline string) (int64, bool, error) {
	var id int64
	err := s.DB.QueryRowContext(ctx, s.q(`SELECT id FROM photos WHERE hash = ? AND pipeline = ? AND status = 'done'
ORDER BY id LIMIT 1`), hash, pipeline).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("library %s: %w", s.Source, err)
	}
	return id, true, nil
}

// AddPhoto stores a photo described elsewhere (an upload) with its faces in
// one transaction, replacing what a photo at the same path held, and
// returns the photo's id and its faces' ids in the order of found.
func (s *Store) AddPhoto(ctx context.Context, path, hash string, size, mtime int64, pipeline string, found []Face) (int64, []int64, error) {
	for i := range found {
		if err := found[i].check(); err != nil {
			return 0, nil, fmt.Errorf("library %s: photo %s: face %d: %w", s.Source, path, i, err)
		}
	}
	var id int64
	var ids []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO photos (path, hash, size, mtime, status) VALUES (?, ?, ?, ?, 'pending')
ON CONFLICT (path) DO UPDATE SET hash = excluded.hash, size = excluded.size, mtime = excluded.mtime RETURNING id`),
			path, hash, size, mtime).Scan(&id)
		if err != nil {
			return err
		}
		if err := s.savePhoto(ctx, tx, id, hash, pipeline, found); err != nil {
			return err
		}
		ids, err = photoFaceIDs(ctx, s, tx, id)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("library %s: photo %s: %w", s.Source, path, err)
	}
	return id, ids, nil
}

func photoFaceIDs(ctx context.Context, s *Store, db execer, photo int64) ([]int64, error) {
	rows, err := db.QueryContext(ctx, s.q(`SELECT id FROM faces WHERE photo_id = ? ORDER BY id`), photo)
	if err != nil {
		return nil, err
	}
	return column[int64](rows)
}

// NameFace makes a face the named person's, as the user's decision:
// naming an unknown face or correcting a wrong one. The person is created
// when no one has the name yet. It returns the person's id.
func (s *Store) NameFace(ctx context.Context, face int64, name string) (int64, error) {
	return s.assignByName(ctx, face, name, SourceNamed)
}

// SuggestName gives a face that has no person yet the named person, as an
// automatic answer (a model's name for an uploaded face): grouping may
// still move it, and a face the user placed is left alone. It returns the
// face's person.
func (s *Store) SuggestName(ctx context.Context, face int64, name string) (int64, error) {
	return s.assignByName(ctx, face, name, SourceAuto)
}

func (s *Store) assignByName(ctx context.Context, face int64, name, source string) (int64, error) {
	name, bad := CheckName(name)
	if bad != nil {
		return 0, fmt.Errorf("library %s: naming face %d: %w", s.Source, face, bad)
	}
	var person int64
	err := s.userTx(ctx, fmt.Sprintf("naming face %d %q", face, name), func(tx *sql.Tx) error {
		if err := faceExists(ctx, s, tx, face); err != nil {
			return err
		}
		if source == SourceAuto {
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM assignments WHERE face_id = ?`), face).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return tx.QueryRowContext(ctx, s.q(`SELECT coalesce(person_id, 0) FROM assignments WHERE face_id = ?`), face).Scan(&person)
			}
		}
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM people WHERE name = ? ORDER BY id LIMIT 1`), name).Scan(&person)
		if errors.Is(err, sql.ErrNoRows) {
			// The user's typing, unlike a model's names, may be a
			// known person's name spelt another way.
			if source != SourceAuto {
				if err := s.checkLookAlike(ctx, tx, name, 0); err != nil {
					return err
				}
			}
			person, err = s.insertID(ctx, tx, `INSERT INTO people (name) VALUES (?)`, name)
		}
		if err != nil {
			return err
		}
		return s.setAssignment(ctx, tx, face, sql.NullInt64{Int64: person, Valid: true}, source)
	})
	return person, err
}

// Photo is a photo with its faces and their people.
func (s *Store) Photo(ctx context.Context, id int64) (PhotoFaces, error) {
	p := PhotoFaces{ID: id}
	err := s.DB.QueryRowContext(ctx, s.q(`SELECT path FROM photos WHERE id = ?`), id).Scan(&p.Path)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("library %s: photo %d: %w", s.Source, id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("library %s: %w", s.Source, err)
	}
	ps, err := s.photosWhere(ctx, `f.photo_id = ?`, id)
	if err != nil {
		return p, err
	}
	if len(ps) > 0 {
		p.Faces = ps[0].Faces
	}
	return p, nil
}

// PhotosPage is a page of a person's photos and how many there are.
type PhotosPage struct {
	Total  int
	Photos []PhotoFaces
}

// PersonPhotosPage lists the photos [offset, offset+limit) (every one
// from offset when limit < 0) holding a person's faces, by photo id, each
// with all its faces (the person's and the others): a person on thousands
// of photos is read a page at a time.
func (s *Store) PersonPhotosPage(ctx context.Context, person int64, offset, limit int) (PhotosPage, error) {
	var page PhotosPage
	// Reads, not a transaction: on SQLite every transaction takes the
	// write lock.
	var n int
	if err := s.DB.QueryRowContext(ctx, s.q(`SELECT count(*) FROM people WHERE id = ?`), person).Scan(&n); err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if n == 0 {
		return page, fmt.Errorf("library %s: person %d: %w", s.Source, person, ErrNotFound)
	}
	const ofPerson = `SELECT DISTINCT f2.photo_id FROM faces f2 JOIN assignments a2 ON a2.face_id = f2.id WHERE a2.person_id = ?`
	if err := s.DB.QueryRowContext(ctx, s.q(`SELECT count(*) FROM (`+ofPerson+`) t`), person).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if offset < 0 || limit == 0 || offset >= page.Total {
		page.Photos = []PhotoFaces{}
		return page, nil
	}
	if limit < 0 {
		limit = page.Total
	}
	var err error
	page.Photos, err = s.photosWhere(ctx, `f.photo_id IN (SELECT photo_id FROM (`+ofPerson+` ORDER BY photo_id LIMIT ? OFFSET ?) t)`,
		person, limit, offset)
	if page.Photos == nil {
		page.Photos = []PhotoFaces{}
	}
	return page, err
}

// photosWhere lists the faces matching cond grouped by photo, by photo id
// then face id.
func (s *Store) photosWhere(ctx context.Context, cond string, args ...any) ([]PhotoFaces, error) {
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT ph.id, ph.path, f.id, f.x, f.y, f.w, f.h,
coalesce(a.person_id, 0), coalesce(pe.name, ''), coalesce(a.source, '')
FROM faces f JOIN photos ph ON ph.id = f.photo_id
LEFT JOIN assignments a ON a.face_id = f.id LEFT JOIN people pe ON pe.id = a.person_id
WHERE `+cond+` ORDER BY ph.id, f.id`), args...)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	var out []PhotoFaces
	for rows.Next() {
		var p PhotoFaces
		var f LibFace
		if err := rows.Scan(&p.ID, &p.Path, &f.ID, &f.Box[0], &f.Box[1], &f.Box[2], &f.Box[3], &f.PersonID, &f.Person, &f.Source); err != nil {
			return nil, err
		}
		f.PhotoID = p.ID
		if len(out) == 0 || out[len(out)-1].ID != p.ID {
			out = append(out, p)
		}
		last := &out[len(out)-1]
		last.Faces = append(last.Faces, f)
	}
	return out, rows.Err()
}

// FacePlace is where a face is: its photo's path and its box.
func (s *Store) FacePlace(ctx context.Context, face int64) (path string, box [4]float64, err error) {
	err = s.DB.QueryRowContext(ctx, s.q(`SELECT ph.path, f.x, f.y, f.w, f.h FROM faces f JOIN photos ph ON ph.id = f.photo_id
WHERE f.id = ?`), face).Scan(&path, &box[0], &box[1], &box[2], &box[3])
	if errors.Is(err, sql.ErrNoRows) {
		return "", box, fmt.Errorf("library %s: face %d: %w", s.Source, face, ErrNotFound)
	}
	if err != nil {
		return "", box, fmt.Errorf("library %s: %w", s.Source, err)
	}
	return path, box, nil
}

// FacesStamp changes whenever faces are added or removed (their count and
// largest id), so a server can tell its gallery snapshot is stale, whoever
// changed the library.
func (s *Store) FacesStamp(ctx context.Context) (string, error) {
	var n, top int64
	err := s.DB.QueryRowContext(ctx, `SELECT count(*), coalesce(max(id), 0) FROM faces`).Scan(&n, &top)
	if err != nil {
		return "", fmt.Errorf("library %s: %w", s.Source, err)
	}
	return fmt.Sprintf("%d/%d", n, top), nil
}

// NamedPeople lists the names of the named people, sorted.
func (s *Store) NamedPeople(ctx context.Context) ([]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT DISTINCT name FROM people WHERE name <> '' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	return column[string](rows)
}

// ExtendGallery brings a gallery snapshot up to date for a server that
// keeps one: the faces stored after its last one are appended, and when
// faces were removed meanwhile (or committed out of id order, as
// concurrent PostgreSQL writers can) it is read whole again. Adding faces
// thus costs a server their rows only, not the whole library. g must not
// be in use meanwhile.
func (s *Store) ExtendGallery(ctx context.Context, g *Gallery) (*Gallery, error) {
	var last int64
	if n := len(g.FaceIDs); n > 0 {
		last = g.FaceIDs[n-1]
	}
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT id, photo_id, descriptor FROM faces WHERE id > ? ORDER BY id`), last)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	if err := s.appendFaces(g, rows); err != nil {
		return nil, err
	}
	var n int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM faces`).Scan(&n); err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if n != len(g.FaceIDs) {
		return s.LoadGallery(ctx)
	}
	return g, nil
}

// PlaceFace gives a face without a person the person given, or a new
// unnamed person when person is 0, as an automatic grouping (Group's
// "auto": a later full regrouping may move it). A face that has an
// assignment by then keeps it. It returns the face's person.
func (s *Store) PlaceFace(ctx context.Context, face, person int64) (int64, error) {
	err := s.userTx(ctx, fmt.Sprintf("placing face %d", face), func(tx *sql.Tx) error {
		var current sql.NullInt64
		err := tx.QueryRowContext(ctx, s.q(`SELECT person_id FROM assignments WHERE face_id = ?`), face).Scan(&current)
		if err == nil {
			person = current.Int64
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if person == 0 {
			if person, err = s.insertID(ctx, tx, `INSERT INTO people (name) VALUES ('')`); err != nil {
				return err
			}
		} else if err := personExists(ctx, s, tx, person); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, 'auto')`), face, person)
		return err
	})
	return person, err
}
