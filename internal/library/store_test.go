package library

import (
	"context"
	"path/filepath"
	"testing"
)

// eachDialect runs a test on SQLite and, when it can start, PostgreSQL.
func eachDialect(t *testing.T, fn func(t *testing.T, location string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "lib.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresLocation(t)) })
}

func openTest(t *testing.T, location string) *Store {
	t.Helper()
	s, err := Open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMigrationsIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		ctx := context.Background()
		for range 3 {
			s, err := Open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			var n, v int
			if err := s.DB.QueryRowContext(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &v); err != nil {
				t.Fatal(err)
			}
			if n != len(migrations) || v != SchemaVersion() {
				t.Fatalf("%d versions up to %d, want %d up to %d", n, v, len(migrations), SchemaVersion())
			}
			for _, table := range []string{"photos", "faces", "people", "assignments"} {
				if _, err := s.DB.ExecContext(ctx, "SELECT count(*) FROM "+table); err != nil {
					t.Fatalf("table %s: %v", table, err)
				}
			}
			s.Close()
		}
	})
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	loc := filepath.Join(t.TempDir(), "lib.db")
	s := openTest(t, loc)
	if _, err := s.DB.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'x')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), loc); err == nil {
		t.Fatal("a library with schema version 999 opened")
	}
}

func TestDefaultLocation(t *testing.T) {
	t.Setenv(EnvDB, "/x/lib.db")
	if got, _ := DefaultLocation(); got != "/x/lib.db" {
		t.Fatalf("with %s set: %s", EnvDB, got)
	}
	t.Setenv(EnvDB, "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if got, _ := DefaultLocation(); got != "/data/starid/library.db" {
		t.Fatalf("with XDG_DATA_HOME: %s", got)
	}
}

// TestConcurrentOpensOnANewDatabase starts several processes' worth of
// Opens at once on an empty database: each must find the schema whole.
func TestConcurrentOpensOnANewDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, loc string) {
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := Open(context.Background(), loc)
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	})
}
