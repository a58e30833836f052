package library

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"starid/internal/faces"
)

// A photo described again (its content changed, or another face pipeline
// or detector) gets new faces; the old faces' people pass to the new face
// in the same place, so that upgrading starid or switching --detector
// undoes none of the user's decisions (a name, a merge, a split, a
// forget). Grouping's own assignments pass too: otherwise the faces would
// be grouped again as new ones, and those that had been split off or
// merged would draw their old group-mates after them.

// SameFaceIoU is the box overlap (intersection over union) from which a
// new face of a re-described photo is taken for an old one. Detectors and
// sizes move a box by a few pixels; two faces of one photo overlap far
// less.
const SameFaceIoU = 0.5

// decision is an old face's person and how it came to it, by its box.
type decision struct {
	box    faces.Box
	person sql.NullInt64
	source string
}

// decisions are the people of the faces of photo.
func (s *Store) decisions(ctx context.Context, tx *sql.Tx, photo int64) ([]decision, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT f.x, f.y, f.w, f.h, a.person_id, a.source
FROM faces f JOIN assignments a ON a.face_id = f.id WHERE f.photo_id = ?`), photo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []decision
	for rows.Next() {
		var d decision
		if err := rows.Scan(&d.box.X, &d.box.Y, &d.box.W, &d.box.H, &d.person, &d.source); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// match pairs the new faces found with the old faces' decisions, the
// most overlapping pairs first, each at least SameFaceIoU: out[i] is
// found[i]'s decision, or nil.
func match(ds []decision, found []Face) []*decision {
	type pair struct {
		face, old int
		iou       float64
	}
	var pairs []pair
	for i, f := range found {
		b := faces.Box{X: f.Box[0], Y: f.Box[1], W: f.Box[2], H: f.Box[3]}
		for j := range ds {
			if iou := faces.IoU(ds[j].box, b); iou >= SameFaceIoU {
				pairs = append(pairs, pair{i, j, iou})
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return cmp.Compare(b.iou, a.iou) })
	out := make([]*decision, len(found))
	taken := make([]bool, len(ds))
	for _, p := range pairs {
		if out[p.face] == nil && !taken[p.old] {
			out[p.face], taken[p.old] = &ds[p.old], true
		}
	}
	return out
}

// keepDecision gives the new face the decision d.
func (s *Store) keepDecision(ctx context.Context, tx *sql.Tx, face int64, d *decision) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, ?)`), face, d.person, d.source)
	return err
}
