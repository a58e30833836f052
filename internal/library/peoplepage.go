package library

import (
	"context"
	"fmt"
	"strings"
)

// PeoplePage is one page of the people list, in People's order, with at
// most a few faces of each: what a web page shows, read without loading
// every face of a large library.
type PeoplePage struct {
	Total  int // people with faces in the whole library
	People []PagePerson
}

// PagePerson is a person of a page: its face count and its first faces.
type PagePerson struct {
	ID        int64
	Name      string
	FaceCount int
	Faces     []LibFace // the first faces by id, at most the page's faces
}

// People returns people [offset, offset+limit) in People's order (named
// first by name, then the largest groups, then by id) with the first
// faces of each, at most faces a person. The count and the page are read
// by two queries: a decision made between them may move a person, which
// the next reading shows.
func (s *Store) PeoplePage(ctx context.Context, offset, limit, faces int) (PeoplePage, error) {
	var page PeoplePage
	if offset < 0 || limit < 0 || faces < 0 {
		return page, fmt.Errorf("library: people page %d+%d with %d faces: negative", offset, limit, faces)
	}
	err := s.DB.QueryRowContext(ctx, `SELECT count(DISTINCT person_id) FROM assignments WHERE person_id IS NOT NULL`).Scan(&page.Total)
	if err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if limit == 0 || offset >= page.Total {
		page.People = []PagePerson{}
		return page, nil
	}
	// The same order as sortPeople: byte order of names on both
	// databases (PostgreSQL's own collation may differ).
	collate := "BINARY"
	if s.Dialect == Postgres {
		collate = `"C"`
	}
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT pe.id, pe.name, count(*) AS n FROM people pe JOIN assignments a ON a.person_id = pe.id
GROUP BY pe.id, pe.name ORDER BY pe.name = '', pe.name COLLATE `+collate+`, n DESC, pe.id LIMIT ? OFFSET ?`), limit, offset)
	if err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	at := map[int64]int{}
	for rows.Next() {
		var p PagePerson
		if err := rows.Scan(&p.ID, &p.Name, &p.FaceCount); err != nil {
			return page, err
		}
		p.Faces = []LibFace{}
		at[p.ID] = len(page.People)
		page.People = append(page.People, p)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if faces == 0 || len(page.People) == 0 {
		return page, nil
	}
	return page, s.firstFaces(ctx, &page, at, faces)
}

// firstFaces fills in each page person's first faces by id.
func (s *Store) firstFaces(ctx context.Context, page *PeoplePage, at map[int64]int, faces int) error {
	args := make([]any, 0, len(page.People)+1)
	for _, p := range page.People {
		args = append(args, p.ID)
	}
	args = append(args, faces)
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(page.People)), ", ")
	rows, err := s.DB.QueryContext(ctx, s.q(`SELECT person_id, id, photo_id, x, y, w, h FROM (
	SELECT a.person_id, f.id, f.photo_id, f.x, f.y, f.w, f.h, row_number() OVER (PARTITION BY a.person_id ORDER BY f.id) AS rn
	FROM assignments a JOIN faces f ON f.id = a.face_id WHERE a.person_id IN (`+marks+`)
) t WHERE rn <= ? ORDER BY person_id, id`), args...)
	if err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer rows.Close()
	for rows.Next() {
		var f LibFace
		if err := rows.Scan(&f.PersonID, &f.ID, &f.PhotoID, &f.Box[0], &f.Box[1], &f.Box[2], &f.Box[3]); err != nil {
			return err
		}
		p := &page.People[at[f.PersonID]]
		f.Person = p.Name
		p.Faces = append(p.Faces, f)
	}
	return rows.Err()
}
