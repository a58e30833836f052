package library

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
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
// describing would serialize the workers. Each worker claims a photo in
// one short transaction (its claimant token written on the row), describes
// it outside any transaction, then writes in one short transaction that
// first checks the photo is still pending. A claim whose process has died
// (kill -9) is taken over by the next indexer.
func (ix *Indexer) claimer(ctx context.Context) (claimFunc, error) {
	if ix.Store.Dialect == Postgres {
		return ix.claimPostgres, nil
	}
	return ix.claimSQLite(ctx)
}

func (ix *Indexer) claimPostgres(ctx context.Context) (claimed, bool, error) {
	s := ix.Store
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return claimed{}, false, fmt.Errorf("library %s: %w", s.Source, err)
	}
	defer tx.Rollback()
	var id int64
	var path string
	err = tx.QueryRowContext(ctx, `SELECT id, path FROM photos WHERE status = 'pending'
ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &path)
	if errors.Is(err, sql.ErrNoRows) {
		return claimed{}, false, nil
	}
	if err != nil {
		return claimed{}, false, fmt.Errorf("library %s: claiming a photo: %w", s.Source, err)
	}
	d, err := ix.describe(ctx, path)
	if err != nil {
		return claimed{}, false, err
	}
	c, err := ix.save(ctx, tx, id, path, d)
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return claimed{}, false, fmt.Errorf("library %s: photo %s: %w", s.Source, path, err)
	}
	return c, true, nil
}

func (ix *Indexer) claimSQLite(ctx context.Context) (claimFunc, error) {
	me := newClaimant()
	return func(ctx context.Context) (claimed, bool, error) {
		id, path, ok, err := ix.Store.claimOne(ctx, me)
		if err != nil || !ok {
			return claimed{}, false, err
		}
		c, err := ix.describeThenSave(ctx, id, path)
		if err != nil {
			return claimed{}, false, fmt.Errorf("library %s: photo %s: %w", ix.Store.Source, path, err)
		}
		return c, true, nil
	}, nil
}

// claimOne marks the first pending photo that no live indexer holds as
// this indexer's, in one short write transaction (SQLite's one writer
// makes it atomic), and returns it; ok is false when none is left.
func (s *Store) claimOne(ctx context.Context, me claimant) (id int64, path string, ok bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, path, claimed_by, claimed_at FROM photos
WHERE status = 'pending' ORDER BY claimed_by <> '', id LIMIT 256`)
		if err != nil {
			return err
		}
		found := false
		for rows.Next() && !found {
			var by string
			var at int64
			if err := rows.Scan(&id, &path, &by, &at); err != nil {
				rows.Close()
				return err
			}
			found = by == "" || me.stale(by, at)
		}
		rows.Close()
		if err := rows.Err(); err != nil || !found {
			return err
		}
		ok = true
		_, err = tx.ExecContext(ctx, `UPDATE photos SET claimed_by = ?, claimed_at = ? WHERE id = ?`, me.token, time.Now().Unix(), id)
		return err
	})
	if err != nil {
		return 0, "", false, fmt.Errorf("library %s: claiming a photo: %w", s.Source, err)
	}
	return id, path, ok, nil
}

// claimant names an indexer in a claim: host, process and a random part
// (several indexers may share a process), so that a claim left by a
// killed process can be told from a live one.
type claimant struct {
	token, host string
	pid         int
}

func newClaimant() claimant {
	host, _ := os.Hostname()
	var r [6]byte
	rand.Read(r[:])
	c := claimant{host: host, pid: os.Getpid()}
	c.token = fmt.Sprintf("%s:%d:%s", host, c.pid, hex.EncodeToString(r[:]))
	return c
}

// ClaimLease is how long a claim by a process on another host holds: its
// liveness cannot be checked from here (a SQLite file shared between
// hosts is unusual; PostgreSQL needs no claims).
const ClaimLease = time.Hour

// stale reports whether a claim's indexer is gone: a process of this host
// that no longer runs, or a claim older than ClaimLease from elsewhere.
func (c claimant) stale(by string, at int64) bool {
	parts := strings.Split(by, ":")
	if len(parts) == 3 && parts[0] == c.host && canCheckProcesses {
		pid, err := strconv.Atoi(parts[1])
		return err != nil || !processAlive(pid)
	}
	return time.Since(time.Unix(at, 0)) > ClaimLease
}

// describeThenSave describes outside any transaction, then saves in one
// that first checks the photo is still pending: another process on the
// same file may have taken it meanwhile (its faces are then not written
// twice; the photo counts as described by this run all the same).
func (ix *Indexer) describeThenSave(ctx context.Context, id int64, path string) (claimed, error) {
	d, err := ix.describe(ctx, path)
	if err != nil {
		return claimed{}, err
	}
	s := ix.Store
	c := claimed{path: path, faces: len(d.faces)}
	if d.err != nil {
		c = claimed{path: path, failed: d.err.Error()}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM photos WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && status != "pending") {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = ix.save(ctx, tx, id, path, d)
		return err
	})
	return c, err
}
