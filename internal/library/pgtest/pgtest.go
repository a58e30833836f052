// Package pgtest gives tests outside internal/library a throwaway
// PostgreSQL cluster, as the library's own tests start one: initdb and
// pg_ctl on a temporary folder, reachable only through a unix socket in
// it, started on first use. A test that gets no cluster is skipped with the
// reason (PostgreSQL not installed: scripts/setup.sh installs it).
//
// The package's TestMain must call Stop after m.Run (or be Main), or the
// cluster outlives the test binary.
package pgtest

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

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver
)

var cluster struct {
	once   sync.Once
	dir    string // socket and data folder
	skip   string // why there is no cluster
	stop   func()
	nextDB atomic.Int64
}

// Stop stops the cluster, if one was started, and removes its files.
func Stop() {
	if cluster.stop != nil {
		cluster.stop()
	}
}

// Main is a TestMain for the packages that use the cluster: it runs the
// tests, then stops the cluster before the binary exits.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// binDir finds PostgreSQL's programs: $STARID_PG_BIN, Debian's versioned
// folder (newest), or initdb on PATH.
func binDir() string {
	if d := os.Getenv("STARID_PG_BIN"); d != "" {
		return d
	}
	if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(found) > 0 {
		return filepath.Dir(found[len(found)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// command runs a PostgreSQL program; PostgreSQL refuses to run as root,
// so root runs it as the postgres user that Debian's package creates.
func command(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(binDir(), name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
	}
	return exec.Command(bin, args...)
}

func start() {
	if binDir() == "" {
		cluster.skip = "PostgreSQL's initdb not found (scripts/setup.sh installs Debian's postgresql package)"
		return
	}
	dir, err := os.MkdirTemp("", "starid-pgtest-")
	if err != nil {
		cluster.skip = err.Error()
		return
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			cluster.skip = "running as root without a postgres user to run PostgreSQL as"
			os.RemoveAll(dir)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		cluster.skip = fmt.Sprintf("initdb: %v\n%s", err, out)
		os.RemoveAll(dir)
		return
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -F -c max_connections=60", dir)
	if out, err := command("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		cluster.skip = fmt.Sprintf("pg_ctl start: %v\n%s", err, out)
		os.RemoveAll(dir)
		return
	}
	cluster.dir = dir
	cluster.stop = func() {
		command("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run()
		os.RemoveAll(dir)
	}
}

func url(db string) string {
	return fmt.Sprintf("postgres:///%s?host=%s&user=postgres", db, cluster.dir)
}

// Location gives a new empty database on the cluster as a postgres:// URL,
// or skips t saying why there is none.
func Location(t testing.TB) string {
	t.Helper()
	cluster.once.Do(start)
	if cluster.skip != "" {
		t.Skip("PostgreSQL test skipped: " + cluster.skip)
	}
	name := fmt.Sprintf("db%d", cluster.nextDB.Add(1))
	admin, err := sql.Open("pgx", url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return url(name)
}
