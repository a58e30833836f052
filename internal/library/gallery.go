package library

import (
	"context"
	"database/sql"
	"fmt"

	"starid/internal/library/knn"
)

// Gallery is every stored face descriptor in one matrix, for grouping and
// search. It is a snapshot: a server keeps one and reloads it after an
// index run.
type Gallery struct {
	FaceIDs  []int64 // row -> face id, ascending
	PhotoIDs []int64 // row -> photo id
	Matrix   *knn.Matrix
	row      map[int64]int
}

// LoadGallery reads all descriptors.
func (s *Store) LoadGallery(ctx context.Context) (*Gallery, error) { return s.loadGallery(ctx, s.DB) }

func (s *Store) loadGallery(ctx context.Context, db execer) (*Gallery, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, photo_id, descriptor FROM faces ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	g := &Gallery{Matrix: knn.New(DescriptorSize), row: map[int64]int{}}
	if err := s.appendFaces(g, rows); err != nil {
		return nil, err
	}
	return g, nil
}

// appendFaces adds the (id, photo_id, descriptor) rows to g in their
// order; a whole load and an extension both read faces this way.
func (s *Store) appendFaces(g *Gallery, rows *sql.Rows) error {
	buf := make([]float32, 0, DescriptorSize)
	for rows.Next() {
		var id, photo int64
		var blob []byte
		if err := rows.Scan(&id, &photo, &blob); err != nil {
			return err
		}
		d, err := blobFloats(blob, buf[:0])
		if err == nil {
			err = g.Matrix.Add(d)
		}
		if err != nil {
			return fmt.Errorf("library %s: face %d: %w", s.Source, id, err)
		}
		g.row[id] = len(g.FaceIDs)
		g.FaceIDs = append(g.FaceIDs, id)
		g.PhotoIDs = append(g.PhotoIDs, photo)
	}
	return rows.Err()
}

// Descriptor is face id's descriptor, or nil when the gallery lacks it.
func (g *Gallery) Descriptor(faceID int64) []float32 {
	if r, ok := g.row[faceID]; ok {
		return g.Matrix.Row(r)
	}
	return nil
}

// assignment is a face's place in a person.
type assignment struct {
	person sql.NullInt64
	source string
}

func (s *Store) loadAssignments(ctx context.Context, db execer) (map[int64]assignment, error) {
	rows, err := db.QueryContext(ctx, `SELECT face_id, person_id, source FROM assignments`)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	out := map[int64]assignment{}
	for rows.Next() {
		var id int64
		var a assignment
		if err := rows.Scan(&id, &a.person, &a.source); err != nil {
			return nil, err
		}
		out[id] = a
	}
	return out, rows.Err()
}
