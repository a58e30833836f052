package library

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// DefaultUploads is the folder that keeps the photos uploaded to the
// library at location (serve --db) when none is given: one per library,
// so two libraries never share, or mix, their uploads. For a SQLite file
// it sits beside it, named after it (photos.db: photos.uploads); for a
// PostgreSQL library it is in starid's data folder, named after the
// server and the database (uploads/HOST_PORT_DB), since the URL names no
// folder. Servers sharing a PostgreSQL library should share one folder
// (--uploads on a network mount).
func DefaultUploads(location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("no library to name the uploads folder after")
	}
	if !IsPostgres(location) {
		base := strings.TrimSuffix(location, filepath.Ext(location))
		if filepath.Base(base) == "" || strings.HasSuffix(base, string(filepath.Separator)) {
			base = location // ".db" alone: keep the whole name
		}
		return base + ".uploads", nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("library %s: %w", redact(location), err)
	}
	q := u.Query()
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = q.Get("host") // a unix socket folder, or nothing: libpq's default
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		db = q.Get("dbname")
	}
	if db == "" {
		db = u.User.Username() // PostgreSQL's own default database name
	}
	dir, err := DataDir()
	if err != nil {
		return "", fmt.Errorf("no data folder for the uploads of %s (give --uploads): %w", redact(location), err)
	}
	name := safeName(host) + "_" + safeName(port) + "_" + safeName(db)
	return filepath.Join(dir, "uploads", name), nil
}

// safeName keeps letters, digits, '.', '-'; anything else (a socket
// folder's slashes, say) becomes '-', so the name is one folder.
func safeName(s string) string {
	s = strings.Trim(s, "/")
	if s == "" {
		return "default"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '-'
	}, s)
}
