package library

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"starid/internal/library/cluster"
	"starid/internal/library/knn"
)

// Assignment sources: how a face came to its person. Only "auto" is ever
// changed by grouping; the others are the user's decisions.
const (
	SourceAuto      = "auto"
	SourceNamed     = "named"
	SourceMerged    = "merged"
	SourceSplit     = "split"
	SourceForgotten = "forgotten"
)

// GroupThreshold links two faces in the grouping graph. Measured on
// celebrity17's 1,370 main faces (scripts/dev/libeval, docs/EXPERIMENTS.md):
// 0.50 gives BCubed precision 0.997 / recall 0.956, 0.55 gives 0.993 /
// 0.979, 0.60 (dlib's usual) lets groups chain into each other (0.879 to
// 0.989 precision from run to run). A graph edge needs more certainty than
// a verify answer: one wrong edge can join two whole groups.
const GroupThreshold = 0.55

// SameThreshold is verify's distance for "same person", for descriptors
// averaged with their mirror image (VerifyMirrored): the threshold of
// best balanced accuracy on half of celebrity17's photos (0.628; 98.15%
// right on 1,000 same and 1,000 different pairs of the other half, where
// plain descriptors at their own best, 0.648, gave 98.0%). Verify of two
// photos sets each pair's own threshold from its faces (DefaultVerifyRule);
// this one is for descriptors compared without their faces.
const SameThreshold = 0.63

// GroupOptions tunes Group.
type GroupOptions struct {
	Threshold float64 // edge when distance <= Threshold; 0: GroupThreshold
	// Full regroups every automatically grouped face; otherwise only
	// faces without a person yet move (they join existing people or form
	// new ones), which costs new faces x all faces.
	Full bool
	Seed uint64 // Chinese Whispers' visiting order
}

// GroupReport says what Group did.
type GroupReport struct {
	Faces     int // faces in the library (forgotten ones included)
	Moved     int // faces given a (new) person
	NewPeople int
	Edges     int // graph edges (each counted from both ends)
}

// Group gives every face that is not the user's decision a person: Chinese
// Whispers on the graph linking faces closer than the threshold, with the
// faces the user named, merged or split fixed to their person (they pull
// their neighbours in) and forgotten faces left out. Decisions are never
// changed, even if made while Group runs.
func (s *Store) Group(ctx context.Context, opt GroupOptions) (GroupReport, error) {
	if opt.Threshold <= 0 {
		opt.Threshold = GroupThreshold
	}
	var rep GroupReport
	var err error
	if s.Dialect == Postgres {
		// Several servers may group at once: one at a time, each seeing
		// the last one's people, or both would make people for the same
		// new faces.
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7316022)`); err != nil {
				return err
			}
			rep, err = s.group(ctx, tx, opt, func(fn func(tx *sql.Tx) error) error { return fn(tx) })
			return err
		})
	} else {
		// SQLite: reading and computing outside the write transaction
		// leaves the file to the indexers meanwhile; the one writer is
		// the lock.
		rep, err = s.group(ctx, s.DB, opt, func(fn func(tx *sql.Tx) error) error { return s.inTx(ctx, fn) })
	}
	if err != nil {
		return rep, fmt.Errorf("library %s: grouping: %w", s.Source, err)
	}
	return rep, nil
}

// group reads through db, computes, and writes within write.
func (s *Store) group(ctx context.Context, db execer, opt GroupOptions, write func(func(tx *sql.Tx) error) error) (GroupReport, error) {
	g, err := s.loadGallery(ctx, db)
	if err != nil {
		return GroupReport{}, err
	}
	asg, err := s.loadAssignments(ctx, db)
	if err != nil {
		return GroupReport{}, err
	}
	p := planGraph(g, asg, opt.Full)
	rep := GroupReport{Faces: len(g.FaceIDs)}
	if len(p.free) == 0 {
		return rep, nil
	}
	adj := p.edges(g.Matrix, opt.Threshold)
	for _, e := range adj {
		rep.Edges += len(e)
	}
	labels := cluster.ChineseWhispers(adj, p.labels, p.frozen, opt.Seed)
	names := p.personFor(labels, asg, g)
	err = write(func(tx *sql.Tx) error {
		var err error
		rep.Moved, rep.NewPeople, err = s.saveGroups(ctx, tx, g, p.free, labels, names, asg)
		return err
	})
	return rep, err
}

// graphPlan is who is in the graph and who may move.
type graphPlan struct {
	labels []int64 // person id for fixed faces, -(row+1) for free ones
	frozen []bool
	out    []bool // forgotten: no edges
	free   []int  // rows that may move
}

func planGraph(g *Gallery, asg map[int64]assignment, full bool) graphPlan {
	n := len(g.FaceIDs)
	p := graphPlan{labels: make([]int64, n), frozen: make([]bool, n), out: make([]bool, n)}
	for r, id := range g.FaceIDs {
		a, ok := asg[id]
		switch {
		case ok && a.source == SourceForgotten:
			p.out[r], p.frozen[r] = true, true
		case ok && a.person.Valid && (a.source != SourceAuto || !full):
			p.frozen[r], p.labels[r] = true, a.person.Int64
		default:
			p.labels[r] = -int64(r) - 1
			p.free = append(p.free, r)
		}
	}
	return p
}

// edges links each free face to every face within threshold, forgotten
// ones left out: free-free pairs computed once each, free-fixed pairs
// from the free side only (fixed faces never move, they need no edges).
// Incremental grouping thus costs new x all faces, not all x all.
func (p *graphPlan) edges(m *knn.Matrix, threshold float64) [][]cluster.Edge {
	adj := make([][]cluster.Edge, len(p.labels))
	var fixed []int
	for r, f := range p.frozen {
		if f && !p.out[r] {
			fixed = append(fixed, r)
		}
	}
	free := m.Subset(p.free)
	for i, hs := range free.SelfPairs(float32(threshold)) {
		for _, h := range hs {
			adj[p.free[i]] = append(adj[p.free[i]], cluster.Edge{To: int32(p.free[h.Row]), Weight: 1})
		}
	}
	if len(fixed) > 0 {
		for i, hs := range m.Subset(fixed).Within(free, float32(threshold)) {
			for _, h := range hs {
				adj[p.free[i]] = append(adj[p.free[i]], cluster.Edge{To: int32(fixed[h.Row]), Weight: 1})
			}
		}
	}
	return adj
}

// personFor maps each fresh label (negative) to the person it continues:
// the automatic person most of its faces had before, each old person
// given to one group only (the largest overlap first), never a person
// that fixed faces hold in this run. Labels it leaves out get new people.
func (p *graphPlan) personFor(labels []int64, asg map[int64]assignment, g *Gallery) map[int64]int64 {
	taken := map[int64]bool{}
	for r, f := range p.frozen {
		if f && !p.out[r] {
			taken[p.labels[r]] = true
		}
	}
	type overlap struct {
		label, person int64
		n             int
	}
	count := map[[2]int64]int{}
	for _, r := range p.free {
		if a, ok := asg[g.FaceIDs[r]]; ok && a.person.Valid && labels[r] < 0 {
			count[[2]int64{labels[r], a.person.Int64}]++
		}
	}
	var all []overlap
	for k, n := range count {
		all = append(all, overlap{k[0], k[1], n})
	}
	slices.SortFunc(all, func(a, b overlap) int {
		if a.n != b.n {
			return b.n - a.n
		}
		if a.label != b.label {
			return cmp.Compare(a.label, b.label)
		}
		return cmp.Compare(a.person, b.person)
	})
	out := map[int64]int64{}
	for _, o := range all {
		if _, done := out[o.label]; !done && !taken[o.person] {
			out[o.label], taken[o.person] = o.person, true
		}
	}
	return out
}

// saveGroups writes the free faces' persons, making new people for the
// fresh groups, and drops unnamed people left without faces. The upsert
// changes only automatic assignments: a user decision made meanwhile wins.
func (s *Store) saveGroups(ctx context.Context, tx *sql.Tx, g *Gallery, free []int, labels []int64,
	person map[int64]int64, asg map[int64]assignment) (moved, created int, err error) {
	// One statement parsed once: re-parsing it for each of 100,000 faces
	// was most of the writing's time.
	upsert, err := tx.PrepareContext(ctx, s.q(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, 'auto')
ON CONFLICT (face_id) DO UPDATE SET person_id = excluded.person_id WHERE assignments.source = 'auto'`))
	if err != nil {
		return 0, 0, err
	}
	defer upsert.Close()
	for _, r := range free {
		l := labels[r]
		if l < 0 {
			if _, ok := person[l]; !ok {
				id, err := s.insertID(ctx, tx, `INSERT INTO people (name) VALUES ('')`)
				if err != nil {
					return 0, 0, err
				}
				person[l] = id
				created++
			}
			l = person[l]
		}
		face := g.FaceIDs[r]
		if a, ok := asg[face]; ok && a.person.Valid && a.person.Int64 == l {
			continue
		}
		if _, err := upsert.ExecContext(ctx, face, l); err != nil {
			return 0, 0, err
		}
		moved++
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM people WHERE name = '' AND id NOT IN
	(SELECT person_id FROM assignments WHERE person_id IS NOT NULL)`)
	return moved, created, err
}
