package library

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"starid/internal/cli"
	"strings"
	"sync"
	"sync/atomic"
)

// Describer finds the faces of one photo. data is the file's bytes; path
// is for messages (and for describers that cache by file). It must be safe
// for concurrent use. An error marks the photo bad; it does not stop the
// indexing.
type Describer interface {
	Describe(ctx context.Context, path string, data []byte) ([]Face, error)
}

// Indexer keeps a library in line with folders of photos.
type Indexer struct {
	Store     *Store
	Describer Describer
	// Pipeline names the face pipeline's version: photos described by
	// another version are described again.
	Pipeline string
	Workers  int // describers running at once; 0: one per core
	// Progress, when not nil, is called after each photo is described
	// (from several goroutines, one call at a time).
	Progress func(done, total int, path string)
}

// Report says what an Index run did: this run's work only, not the
// library's history (a photo that failed in an earlier run and is still
// there is tried again, and counts here again).
type Report struct {
	Seen      int // photos found in the folders
	Added     int // new photos
	Changed   int // photos whose content (or pipeline) changed
	Unchanged int // photos already indexed as they are: not read again
	Moved     int // photos found at a new path, faces kept
	Removed   int // photos gone from disk, faces dropped
	Described int // photos this run described (their faces stored)
	Faces     int // faces those photos held
	Bad       int // photos this run could not describe (len(Failed))
	// Failed lists, by path, what this run could not take: photos it
	// could not read or describe, and folders and links the walk could
	// not follow.
	Failed []BadPhoto
}

// Index scans roots (folders, walked recursively, or single photos) and
// describes every photo not yet described by this pipeline. Each photo's
// faces are written with its row in one transaction, so a run killed at
// any moment loses only the photos in flight, which the next run takes.
// Several Index runs may share a PostgreSQL library: each pending photo is
// claimed by one of them.
func (ix *Indexer) Index(ctx context.Context, roots []string) (Report, error) {
	var rep Report
	if ix.Describer == nil {
		return rep, errors.New("library: Index without a Describer")
	}
	if err := ix.scan(ctx, roots, &rep); err != nil {
		return rep, err
	}
	err := ix.describePending(ctx, &rep)
	slices.SortFunc(rep.Failed, func(a, b BadPhoto) int { return strings.Compare(a.Path, b.Path) })
	rep.Bad = len(rep.Failed)
	return rep, err
}

// describePending runs the workers until no pending photo is left.
func (ix *Indexer) describePending(ctx context.Context, rep *Report) error {
	s := ix.Store
	var total int
	if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM photos WHERE status = 'pending'`).Scan(&total); err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	workers := ix.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Describing is CPU-bound, so workers beyond a few per core only hold
	// decoded photos in memory and (on PostgreSQL) a connection each: 500
	// of them overflowed the server's connections. Nor are more workers
	// than photos of any use.
	workers = max(1, min(workers, cli.MaxWorkersPerCore*runtime.GOMAXPROCS(0), total))
	claim, err := ix.claimer(ctx)
	if err != nil {
		return err
	}
	var done, faces atomic.Int64
	var mu sync.Mutex // serializes Progress calls and guards rep.Failed
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, ok, err := claim(ctx)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				d := done.Add(1)
				mu.Lock()
				if c.failed != "" {
					rep.Failed = append(rep.Failed, BadPhoto{Path: c.path, Error: c.failed})
				} else {
					faces.Add(int64(c.faces))
					rep.Described++
				}
				if ix.Progress != nil {
					ix.Progress(int(d), max(total, int(d)), c.path)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	rep.Faces = int(faces.Load())
	return <-errs // nil when no worker failed
}

// claimFunc takes one pending photo, describes it and commits its faces;
// ok is false when none is left.
type claimFunc func(ctx context.Context) (c claimed, ok bool, err error)

// claimed is what a claim did with its photo.
type claimed struct {
	path   string
	faces  int
	failed string // why the photo could not be described; "" when it was
}

// described is what describing one photo gave.
type described struct {
	hash  string // of the bytes described; "" when the file could not be read
	faces []Face
	err   error // the photo is bad
}

// describe reads and describes one photo. Its failures are the photo's
// (kept as its error), except a cancelled run.
func (ix *Indexer) describe(ctx context.Context, path string) (described, error) {
	var d described
	data, err := os.ReadFile(path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// The listing puts the path before the reason; without this it
		// says it twice ("x.jpg: open x.jpg: no such file").
		err = fmt.Errorf("unreadable: %w", pe.Err)
	}
	if err == nil {
		sum := sha256.Sum256(data)
		d.hash = hex.EncodeToString(sum[:])
		d.faces, err = ix.Describer.Describe(ctx, path, data)
	}
	for i := range d.faces {
		if err != nil {
			break
		}
		if err = d.faces[i].check(); err != nil {
			err = fmt.Errorf("face %d: %w", i, err)
		}
	}
	if ctx.Err() != nil {
		return d, ctx.Err() // a cancelled run is not the photo's fault
	}
	if le := (*LoadError)(nil); errors.As(err, &le) {
		return d, le // nor is a missing model
	}
	d.err = err
	return d, nil
}

// save stores what describe found in tx.
func (ix *Indexer) save(ctx context.Context, tx *sql.Tx, id int64, path string, d described) (claimed, error) {
	if d.err != nil {
		return claimed{path: path, failed: d.err.Error()}, ix.Store.saveBad(ctx, tx, id, d.hash, ix.Pipeline, d.err.Error())
	}
	return claimed{path: path, faces: len(d.faces)}, ix.Store.savePhoto(ctx, tx, id, d.hash, ix.Pipeline, d.faces)
}

// savePhoto replaces a photo's faces and marks it done, the user's
// decisions about the old faces passing to the new ones in their places
// (see keep.go). The hash is the one of the bytes actually described, in
// case the file changed since the scan.
func (s *Store) savePhoto(ctx context.Context, tx *sql.Tx, id int64, hash, pipeline string, found []Face) error {
	kept, err := s.decisions(ctx, tx, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM faces WHERE photo_id = ?`), id); err != nil {
		return err
	}
	matched := match(kept, found)
	for i, f := range found {
		face, err := s.insertID(ctx, tx, `INSERT INTO faces (photo_id, x, y, w, h, landmarks, descriptor, score, quality)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, f.Box[0], f.Box[1], f.Box[2], f.Box[3],
			landmarksBlob(f.Landmarks), floatsBlob(f.Descriptor), f.Score, f.Quality)
		if err != nil {
			return err
		}
		// The user's decision wins over the run's name, which wins over
		// grouping's old answer.
		if d := matched[i]; d != nil && (d.source != SourceAuto || f.Name == "") {
			if err := s.keepDecision(ctx, tx, face, d); err != nil {
				return err
			}
		} else if f.Name != "" {
			if err := s.nameFace(ctx, tx, face, f.Name); err != nil {
				return err
			}
		}
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE photos SET status = 'done', hash = ?, pipeline = ?, error = '', claimed_by = '' WHERE id = ?`), hash, pipeline, id)
	return err
}

func (s *Store) saveBad(ctx context.Context, tx *sql.Tx, id int64, hash, pipeline, reason string) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM faces WHERE photo_id = ?`), id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(`UPDATE photos SET status = 'bad', hash = ?, pipeline = ?, error = ?, claimed_by = '' WHERE id = ?`), hash, pipeline, reason, id)
	return err
}

// BadPhoto is what an index run could not take: a photo it could not
// read or describe, or a folder or link the walk could not follow.
type BadPhoto struct {
	Path  string `json:"image"`
	Error string `json:"error"`
}
