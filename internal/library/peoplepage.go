package library

import (
	"context"
	"fmt"
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
	for rows.Next() {
		var p PagePerson
		if err := rows.Scan(&p.ID, &p.Name, &p.FaceCount); err != nil {
			return page, err
		}
		p.Faces = []LibFace{}
		page.People = append(page.People, p)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("library %s: %w", s.Source, err)
	}
	if faces == 0 || len(page.People) == 0 {
		return page, nil
	}
	return page, s.firstFaces(ctx, &page, faces)
}

// firstFaces fills in each page person's first faces by id: one small
// query a person, which reads only those faces through the person's index
// (a window over the page's people would number every face of a large
// group to keep a dozen).
func (s *Store) firstFaces(ctx context.Context, page *PeoplePage, faces int) error {
	stmt, err := s.DB.PrepareContext(ctx, s.q(`SELECT f.id, f.photo_id, f.x, f.y, f.w, f.h
FROM assignments a JOIN faces f ON f.id = a.face_id WHERE a.person_id = ? ORDER BY a.face_id LIMIT ?`))
	if err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer stmt.Close()
	for i := range page.People {
		p := &page.People[i]
		rows, err := stmt.QueryContext(ctx, p.ID, faces)
		if err != nil {
			return fmt.Errorf("library %s: %w", s.Source, err)
		}
		for rows.Next() {
			f := LibFace{PersonID: p.ID, Person: p.Name}
			if err := rows.Scan(&f.ID, &f.PhotoID, &f.Box[0], &f.Box[1], &f.Box[2], &f.Box[3]); err != nil {
				rows.Close()
				return err
			}
			p.Faces = append(p.Faces, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("library %s: %w", s.Source, err)
		}
	}
	return nil
}
