// Package library is starid's photo library: folders of photos indexed into
// one database (SQLite file or PostgreSQL), every face stored with its
// descriptor, unnamed faces grouped into people, user corrections kept, and
// searches over all descriptors.
package library

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" database/sql driver
	_ "modernc.org/sqlite"             // "sqlite" database/sql driver, pure Go
)

// Dialect is the SQL database kind behind a Store.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Store is an open library database with its schema up to date.
type Store struct {
	DB      *sql.DB
	Dialect Dialect
	Source  string // the path or URL it was opened from (password hidden), for messages
}

// EnvDB names the environment variable that overrides the default library.
const EnvDB = "STARID_DB"

// DefaultLocation is the library used when no --db is given: $STARID_DB,
// else library.db in starid's folder of the user's data directory
// ($XDG_DATA_HOME or ~/.local/share on Unix, the user config folder
// elsewhere, where Go knows no data folder).
func DefaultLocation() (string, error) {
	if v := os.Getenv(EnvDB); v != "" {
		return v, nil
	}
	dir, err := DataDir()
	if err != nil {
		return "", fmt.Errorf("library: no data folder for the default library (set %s): %w", EnvDB, err)
	}
	return filepath.Join(dir, "library.db"), nil
}

// DataDir is starid's folder of the user's data directory: $XDG_DATA_HOME
// or ~/.local/share on Unix, the user config folder elsewhere (Go knows no
// data folder there).
func DataDir() (string, error) {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err == nil && home != "" && os.PathSeparator == '/' {
			dir = filepath.Join(home, ".local", "share")
		} else if dir, err = os.UserConfigDir(); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "starid"), nil
}

// IsPostgres reports whether location is a PostgreSQL URL rather than a
// SQLite file path.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Open opens (creating if needed) the library at location — a SQLite file
// path or a postgres:// URL — and brings its schema to the newest version.
func Open(ctx context.Context, location string) (*Store, error) {
	// Source goes into messages, logs and the server's errors: never a
	// password.
	s := &Store{Source: redact(location)}
	var err error
	if IsPostgres(location) {
		s.Dialect = Postgres
		s.DB, err = sql.Open("pgx", location)
	} else {
		s.DB, err = openSQLite(location)
	}
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", redact(location), err)
	}
	if err := s.ready(ctx); err != nil {
		s.DB.Close()
		return nil, fmt.Errorf("library %s: %w", redact(location), err)
	}
	return s, nil
}

// ready connects and migrates. Several processes opening one new SQLite
// file at once can meet SQLITE_BUSY although every connection has a busy
// timeout: SQLite answers it at once, without waiting, where waiting could
// deadlock (two connections both switching a new file to WAL, or both
// upgrading a read to a write). Those attempts are simply made again, for
// up to busyWait.
func (s *Store) ready(ctx context.Context) error {
	start := time.Now()
	for pause := 5 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
		err := s.DB.PingContext(ctx)
		if err == nil {
			err = s.migrate(ctx)
		}
		if err == nil || s.Dialect != SQLite || !isBusy(err) || time.Since(start) > busyWait {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
}

// busyWait bounds how long Open retries a busy new SQLite library.
const busyWait = 10 * time.Second

// ErrReadOnly marks a write the library refused because it cannot be
// written: a read-only file, folder or mount (SQLITE_READONLY), or a
// PostgreSQL role or server that takes no writes.
var ErrReadOnly = errors.New("the library cannot be written (read-only file, folder, mount or database)")

// ErrUnreachable marks a failure to reach the library's PostgreSQL
// server (stopped, restarting, the network): worth retrying later, unlike
// the library's own errors.
var ErrUnreachable = errors.New("the library's database server cannot be reached")

// Explain marks err with ErrReadOnly when the database refused a write
// for being read-only, and with ErrUnreachable when the server could not
// be reached or dropped the connection, so the message says what to fix
// instead of the driver's code alone; other errors are returned as they
// are.
func Explain(err error) error {
	var coded interface{ Code() int }
	var pg interface{ SQLState() string }
	switch {
	case err == nil || errors.Is(err, ErrReadOnly) || errors.Is(err, ErrUnreachable):
		return err
	case errors.As(err, &coded) && coded.Code()&0xff == 8, // SQLITE_READONLY
		errors.As(err, &pg) && pg.SQLState() == "25006": // read_only_sql_transaction
		return fmt.Errorf("%w: %w", ErrReadOnly, err)
	case errors.As(err, new(*pgconn.ConnectError)),
		// Class 08 is connection exceptions, 57P01-57P03 a server
		// shutting down or starting.
		errors.As(err, &pg) && (strings.HasPrefix(pg.SQLState(), "08") || strings.HasPrefix(pg.SQLState(), "57P")):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return err
}

// isBusy reports SQLITE_BUSY (primary result code 5, whatever the
// extended code) from the pure-Go driver.
func isBusy(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code()&0xff == 5
}

// openSQLite opens the file with the settings every connection needs:
// foreign keys (faces go with their photo), WAL so readers never wait for
// the indexer, a busy timeout so a second process waits for the writer
// instead of failing, and IMMEDIATE transactions so a read-then-write
// transaction takes the write lock up front and cannot deadlock.
func openSQLite(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("empty library path")
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, errors.New("a folder or special file, not a library file: give a file path such as " + filepath.Join(path, "library.db"))
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	// The pragmas run in this order on each new connection: the busy
	// timeout comes first, because switching a new file to WAL takes a lock
	// that another process opening the same new library may hold, and
	// without the timeout that switch fails at once with SQLITE_BUSY.
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One writer at a time is SQLite's rule anyway; a few connections let
	// reads run beside it.
	db.SetMaxOpenConns(4)
	return db, nil
}

// redact hides a URL's password in messages.
func redact(location string) string {
	if u, err := url.Parse(location); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return location
}

// Close closes the database.
func (s *Store) Close() error { return s.DB.Close() }

// q rewrites a query written with ? placeholders for the store's dialect
// (PostgreSQL numbers them: $1, $2...). Queries here never hold a literal
// question mark.
func (s *Store) q(query string) string {
	if s.Dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// insertID runs an INSERT and returns the new row's id: RETURNING works on
// both PostgreSQL and SQLite (3.35+), and pgx has no LastInsertId.
func (s *Store) insertID(ctx context.Context, tx execer, query string, args ...any) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, s.q(query+" RETURNING id"), args...).Scan(&id)
	return id, err
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// column reads a one-column result into a slice and closes the rows.
func column[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// inTx runs fn in one transaction, committed when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
