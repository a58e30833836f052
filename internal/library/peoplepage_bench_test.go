package library

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// peopleStore is a SQLite library of n faces shared round-robin by
// people (no descriptors: listing people does not read them), written in
// one transaction.
func peopleStore(b *testing.B, n, people int) *Store {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "lib.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tx, err := s.DB.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		var photo int64
		tx.QueryRow(`INSERT INTO photos (path, hash, size, mtime, status, pipeline) VALUES (?, ?, 1, 1, 'done', 't') RETURNING id`, fmt.Sprintf("/s/%d", i), fmt.Sprint(i)).Scan(&photo)
		var face int64
		tx.QueryRow(`INSERT INTO faces (photo_id, x, y, w, h, descriptor, score, quality) VALUES (?, 1, 1, 10, 10, x'00', 1, 1) RETURNING id`, photo).Scan(&face)
		if i < people {
			tx.Exec(`INSERT INTO people (id, name) VALUES (?, '')`, i+1)
		}
		tx.Exec(`INSERT INTO assignments (face_id, person_id, source) VALUES (?, ?, 'auto')`, face, i%people+1)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s
}

// cpuNow is the process's CPU time: under the shared machine's load, CPU
// per call says more than wall time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPeopleAll lists every person with every face (what `starid
// people --json` and, before paging, GET /api/v1/people read) over 20,000
// faces of 50 people and 100,000 faces of 5,000.
func BenchmarkPeopleAll(b *testing.B) {
	benchPeople(b, func(s *Store) error {
		_, err := s.People(context.Background())
		return err
	})
}

// BenchmarkPeoplePage reads the first page (100 people, 12 faces each)
// of the same libraries, as GET /api/v1/people does now.
func BenchmarkPeoplePage(b *testing.B) {
	benchPeople(b, func(s *Store) error {
		_, err := s.PeoplePage(context.Background(), 0, 100, 12)
		return err
	})
}

// benchPeople times read on each library, reporting CPU per call too.
func benchPeople(b *testing.B, read func(s *Store) error) {
	for _, c := range [][2]int{{20000, 50}, {100000, 5000}} {
		b.Run(fmt.Sprintf("faces=%d/people=%d", c[0], c[1]), func(b *testing.B) {
			s := peopleStore(b, c[0], c[1])
			t0 := cpuNow()
			n := 0
			for b.Loop() {
				if err := read(s); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64((cpuNow()-t0).Milliseconds())/float64(n), "cpu-ms/op")
		})
	}
}
