package library

import (
	"testing"

	"starid/internal/library/pgtest"
)

// The PostgreSQL tests run on pgtest's throwaway cluster (initdb and pg_ctl
// on a temporary folder, a unix socket only), started on first use and
// stopped here once every test has run.
func TestMain(m *testing.M) { pgtest.Main(m) }

// postgresLocation gives a fresh, empty database on the test cluster, or
// skips the test saying why there is none.
func postgresLocation(t *testing.T) string {
	t.Helper()
	return pgtest.Location(t)
}
