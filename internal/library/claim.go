package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// claimer picks how workers share the pending photos.
//
// PostgreSQL: each claim is a transaction that locks one pending row with
// FOR UPDATE SKIP LOCKED and holds it while the photo is described, so
// indexers on any number of machines never take the same photo, and a
// killed one releases its photo with its connection: no stale claims to
// expire.
//
// SQLite has one writer per file: holding a write transaction while
// describing would serialize the workers. Workers take photos from a list
// read once, describe outside any transaction, then write in one short
// transaction that first checks the photo is still pending (another
// process may have taken it; it is then not written twice).
func (ix *Indexer) claimer(ctx context.Context) (claimFunc, error) {
	if ix.Store.Dialect == Postgres {
		return ix.claimPostgres, nil
	}
	return ix.claimSQLite(ctx)
}

func (ix *Indexer) claimPostgres(ctx context.Context) (int, bool, string, bool, error) {
	s := ix.Store
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, "", false, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer tx.Rollback()
	var id int64
	var path string
	err = tx.QueryRowContext(ctx, `SELECT id, path FROM photos WHERE status = 'pending'
ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &path)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, "", false, nil
	}
	if err != nil {
		return 0, false, "", false, fmt.Errorf("library %s: claiming a photo: %w", s.Source, err)
	}
	d, err := ix.describe(ctx, path)
	if err != nil {
		return 0, false, path, false, err
	}
	n, bad, err := ix.save(ctx, tx, id, d)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return 0, false, path, false, fmt.Errorf("library %s: photo %s: %w", s.Source, path, err)
	}
	return n, bad, path, true, nil
}

func (ix *Indexer) claimSQLite(ctx context.Context) (claimFunc, error) {
	s := ix.Store
	rows, err := s.DB.QueryContext(ctx, `SELECT id, path FROM photos WHERE status = 'pending' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", s.Source, err)
	}
	type job struct {
		id   int64
		path string
	}
	var jobs []job
	for rows.Next() {
		var j job
		if err := rows.Scan(&j.id, &j.path); err != nil {
			rows.Close()
			return nil, err
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	next := 0
	return func(ctx context.Context) (int, bool, string, bool, error) {
		mu.Lock()
		if next == len(jobs) {
			mu.Unlock()
			return 0, false, "", false, nil
		}
		j := jobs[next]
		next++
		mu.Unlock()
		n, bad, err := ix.describeThenSave(ctx, j.id, j.path)
		if err != nil {
			return 0, false, j.path, false, fmt.Errorf("library %s: photo %s: %w", s.Source, j.path, err)
		}
		return n, bad, j.path, true, nil
	}, nil
}

// describeThenSave describes outside any transaction, then saves in one
// that first checks the photo is still pending: another process on the
// same file may have taken it meanwhile (its faces are then not written
// twice; the photo counts as described by this run all the same).
func (ix *Indexer) describeThenSave(ctx context.Context, id int64, path string) (int, bool, error) {
	d, err := ix.describe(ctx, path)
	if err != nil {
		return 0, false, err
	}
	s := ix.Store
	var n int
	var bad bool
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM photos WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && status != "pending") {
			return nil
		}
		if err != nil {
			return err
		}
		n, bad, err = ix.save(ctx, tx, id, d)
		return err
	})
	return n, bad, err
}
