package library

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// A throwaway PostgreSQL cluster for the tests: initdb and pg_ctl on a
// temporary folder, listening only on a unix socket inside it. Started on
// first use, stopped by TestMain. PostgreSQL refuses to run as root, so as
// root the cluster belongs to the postgres user (Debian's package makes
// it) and its commands run through runuser.
var pg struct {
	once    sync.Once
	dir     string // socket and data folder
	skip    string // why PostgreSQL tests are skipped
	stop    func()
	counter atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.stop != nil {
		pg.stop()
	}
	os.Exit(code)
}

func pgBin() string {
	if d := os.Getenv("STARID_PG_BIN"); d != "" {
		return d
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// pgCommand runs a PostgreSQL tool, as the postgres user when root.
func pgCommand(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(pgBin(), name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func startPostgres() {
	if pgBin() == "" {
		pg.skip = "PostgreSQL's initdb not found (install Debian's postgresql package: scripts/setup.sh)"
		return
	}
	dir, err := os.MkdirTemp("", "starid-pg-")
	if err != nil {
		pg.skip = err.Error()
		return
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			pg.skip = "running as root and no postgres user to run PostgreSQL as"
			os.RemoveAll(dir)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	if out, err := pgCommand("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		pg.skip = fmt.Sprintf("initdb failed: %v\n%s", err, out)
		os.RemoveAll(dir)
		return
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -F -c max_connections=50", dir)
	if out, err := pgCommand("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		pg.skip = fmt.Sprintf("pg_ctl start failed: %v\n%s", err, out)
		os.RemoveAll(dir)
		return
	}
	pg.dir = dir
	pg.stop = func() {
		pgCommand("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	}
}

func pgURL(db string) string {
	return fmt.Sprintf("postgres:///%s?host=%s&user=postgres", db, pg.dir)
}

// postgresLocation gives a fresh, empty database on the test cluster, or
// skips the test saying why there is none.
func postgresLocation(t *testing.T) string {
	t.Helper()
	pg.once.Do(startPostgres)
	if pg.skip != "" {
		t.Skip("PostgreSQL tests skipped: " + pg.skip)
	}
	name := fmt.Sprintf("t%d", pg.counter.Add(1))
	admin, err := sql.Open("pgx", pgURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return pgURL(name)
}
