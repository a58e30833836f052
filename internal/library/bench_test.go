package library

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fillFaces stores n synthetic faces, clusters of size faces each (one
// photo per face), straight into the tables: the benchmark is about
// grouping, not indexing.
func fillFaces(b *testing.B, s *Store, n, size int) {
	ctx := context.Background()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			id, err := s.insertID(ctx, tx, `INSERT INTO photos (path, hash, size, mtime, status) VALUES (?, '', 0, 0, 'done')`, fmt.Sprintf("/p/%d.jpg", i))
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO faces (photo_id, x, y, w, h, descriptor, score, quality) VALUES (?, 0, 0, 1, 1, ?, 1, 1)`),
				id, floatsBlob(personDescriptor(i/size, i, 0.025)))
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGroup100k groups 100,000 synthetic faces (5,000 people of 20
// faces, noise putting same-person faces ~0.4 apart) from scratch in a
// SQLite library: the target is at most 60 s.
func BenchmarkGroup100k(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "lib.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	fillFaces(b, s, 100_000, 20)
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		b.StopTimer()
		s.DB.Exec(`DELETE FROM assignments`)
		s.DB.Exec(`DELETE FROM people`)
		b.StartTimer()
		rep, err := s.Group(ctx, GroupOptions{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		var people int
		s.DB.QueryRow(`SELECT count(*) FROM people`).Scan(&people)
		b.ReportMetric(float64(people), "people")
		b.ReportMetric(float64(rep.Edges), "edges")
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
