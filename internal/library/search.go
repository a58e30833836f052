package library

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"starid/internal/library/knn"
)

// Match is a face found by a search, nearest first.
type Match struct {
	FaceID   int64
	PhotoID  int64
	Photo    string // path, filled by Resolve
	Box      [4]float64
	Distance float64
	PersonID int64  // 0 when the face has no person
	Person   string // the person's name, "" when unnamed
}

// Like returns the k faces nearest to a descriptor: exact k-NN over the
// whole gallery.
func (g *Gallery) Like(descriptor []float32, k int) []Match {
	hits := g.Matrix.Search(descriptor, k)
	out := make([]Match, len(hits))
	for i, h := range hits {
		out[i] = Match{FaceID: g.FaceIDs[h.Row], PhotoID: g.PhotoIDs[h.Row], Distance: float64(h.Distance)}
	}
	return out
}

// SearchPerson returns the k faces nearest to the named person: the
// centre (mean descriptor) of the faces the person holds, searched like a
// single face, so one query costs one pass over the gallery whatever the
// person's size. Faces of the person itself come first when they are the
// nearest, as they usually are.
func (s *Store) SearchPerson(ctx context.Context, g *Gallery, name string, k int) ([]Match, error) {
	id, err := s.PersonByName(ctx, name)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT face_id FROM assignments WHERE person_id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	centre := make([]float32, DescriptorSize)
	n := 0
	for rows.Next() {
		var face int64
		if err := rows.Scan(&face); err != nil {
			return nil, err
		}
		if d := g.Descriptor(face); d != nil {
			for i, v := range d {
				centre[i] += v
			}
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("library %s: person %q has no faces (index first, or reload the gallery)", s.Source, name)
	}
	for i := range centre {
		centre[i] /= float32(n)
	}
	return g.Like(centre, k), nil
}

// Resolve fills the matches' photo path, box and person.
func (s *Store) Resolve(ctx context.Context, ms []Match) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = fmt.Sprint(m.FaceID) // integers: safe to inline
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT f.id, ph.path, f.x, f.y, f.w, f.h, coalesce(a.person_id, 0), coalesce(pe.name, '')
FROM faces f JOIN photos ph ON ph.id = f.photo_id
LEFT JOIN assignments a ON a.face_id = f.id LEFT JOIN people pe ON pe.id = a.person_id
WHERE f.id IN (`+strings.Join(ids, ",")+`)`)
	if err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	byFace := map[int64]*Match{}
	for i := range ms {
		byFace[ms[i].FaceID] = &ms[i]
	}
	for rows.Next() {
		var id int64
		var m Match
		var person sql.NullInt64
		if err := rows.Scan(&id, &m.Photo, &m.Box[0], &m.Box[1], &m.Box[2], &m.Box[3], &person, &m.Person); err != nil {
			return err
		}
		if t := byFace[id]; t != nil {
			t.Photo, t.Box, t.PersonID, t.Person = m.Photo, m.Box, person.Int64, m.Person
		}
	}
	return rows.Err()
}

// Verdict is whether two faces are the same person.
type Verdict struct {
	Same      bool    `json:"same"`
	Distance  float64 `json:"distance"`
	Threshold float64 `json:"threshold"`
	// Faces counts the faces of each photo (VerifyPhotos): with more than
	// one, only the photo's main face was compared.
	Faces [2]int `json:"faces,omitzero"`
}

// Verify compares two descriptors against threshold (0: SameThreshold).
func Verify(a, b []float32, threshold float64) (Verdict, error) {
	if len(a) != DescriptorSize || len(b) != DescriptorSize {
		return Verdict{}, fmt.Errorf("library: verify needs two %d-value descriptors, got %d and %d", DescriptorSize, len(a), len(b))
	}
	if threshold <= 0 {
		threshold = SameThreshold
	}
	d := knn.Distance(a, b)
	return Verdict{Same: d <= threshold, Distance: d, Threshold: threshold}, nil
}
