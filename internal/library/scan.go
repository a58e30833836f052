package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// photoExts are the file kinds the walk takes as photos.
var photoExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".gif": true, ".webp": true, ".bmp": true,
	".avif": true, ".heic": true, ".heif": true}

// IsPhoto reports whether a file name looks like a photo starid reads.
func IsPhoto(name string) bool { return photoExts[strings.ToLower(filepath.Ext(name))] }

// photoRow is what the scan needs of a stored photo.
type photoRow struct {
	id          int64
	path, hash  string
	size, mtime int64
	pipeline    string
	status      string
	err         string // why a bad photo failed
}

// fileInfo is one photo found on disk.
type fileInfo struct {
	path        string
	size, mtime int64
}

// walk lists the photos under roots (files given directly count too) and
// what it could not follow: unreadable folders, and links named like
// photos that lead nowhere (a link to a photo is taken as the photo;
// links to folders are not followed, so a loop cannot trap the walk). A
// root that cannot be read stops the scan: taking a missing or unmounted
// folder for an emptied one would drop all its faces.
func walk(roots []string) (files []fileInfo, abs []string, failed []BadPhoto, err error) {
	for _, r := range roots {
		a, err := filepath.Abs(r)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", r, err)
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("index %s: %w", r, err)
		}
		abs = append(abs, a)
		start := a
		if st.IsDir() {
			// A root given as a link to a folder is walked (WalkDir would
			// take the link itself); its photos keep the link's path.
			start = a + string(filepath.Separator)
		}
		err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
			f, bad, err := visit(p, d, err, p == start)
			if f != nil {
				files = append(files, *f)
			}
			if bad != nil {
				failed = append(failed, *bad)
			}
			return err
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("index %s: %w", r, err)
		}
	}
	return files, abs, failed, nil
}

// visit is walk's look at one entry: a photo to index, a failure to
// report, or neither. err is WalkDir's for the entry; a non-nil error
// returned stops the walk.
func visit(p string, d fs.DirEntry, err error, root bool) (*fileInfo, *BadPhoto, error) {
	if err != nil {
		if root {
			return nil, nil, err
		}
		// An unreadable subfolder is reported and skipped; its rows stay
		// (see removeGone).
		return nil, &BadPhoto{Path: p, Error: "unreadable folder: " + reason(err)}, nil
	}
	if root && !d.IsDir() && !IsPhoto(p) {
		// Named by the user, unlike a folder's other files: say so.
		return nil, &BadPhoto{Path: p, Error: "not a photo (by its extension): index takes folders and photos " + photoExtList()}, nil
	}
	if !IsPhoto(p) || d.IsDir() {
		return nil, nil, nil
	}
	var info fs.FileInfo
	switch {
	case d.Type().IsRegular():
		info, err = d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil // gone since the folder was listed
		}
	case d.Type()&fs.ModeSymlink != 0:
		info, err = os.Stat(p)
		if err != nil {
			target, _ := os.Readlink(p)
			return nil, &BadPhoto{Path: p, Error: fmt.Sprintf("broken link to %s: %s", target, reason(err))}, nil
		}
		if !info.Mode().IsRegular() {
			return nil, &BadPhoto{Path: p, Error: "a link to something that is not a file"}, nil
		}
	default:
		return nil, nil, nil // a device, pipe or socket named like a photo
	}
	if err != nil {
		return nil, &BadPhoto{Path: p, Error: "unreadable: " + reason(err)}, nil
	}
	return &fileInfo{path: p, size: info.Size(), mtime: info.ModTime().UnixNano()}, nil, nil
}

// photoExtList is the photo extensions, for messages: "(.avif, .bmp, ...)".
func photoExtList() string {
	exts := slices.Sorted(maps.Keys(photoExts))
	return "(" + strings.Join(exts, ", ") + ")"
}

// reason is err without the path a PathError repeats: the listing puts
// the path before it.
func reason(err error) string {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// under reports whether path is root or inside it.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, strings.TrimSuffix(r, string(filepath.Separator))+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// HashFile is the hash the library keeps of a photo: the hex SHA-256 of
// the file's bytes.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) loadPhotos(ctx context.Context) (map[string]photoRow, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, path, hash, size, mtime, pipeline, status, error FROM photos`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]photoRow{}
	for rows.Next() {
		var r photoRow
		if err := rows.Scan(&r.id, &r.path, &r.hash, &r.size, &r.mtime, &r.pipeline, &r.status, &r.err); err != nil {
			return nil, err
		}
		out[r.path] = r
	}
	return out, rows.Err()
}

// scan brings the photos table in line with the folders: new files become
// pending rows, changed ones pending again, moved ones (a new path with the
// hash of a vanished one) keep their row and faces, vanished ones go. Each
// step is one statement that a rerun repeats harmlessly, so a crash
// anywhere leaves nothing a rerun cannot finish.
func (ix *Indexer) scan(ctx context.Context, roots []string, rep *Report) error {
	s := ix.Store
	files, abs, failed, err := walk(roots)
	if err != nil {
		return err
	}
	rep.Failed = append(rep.Failed, failed...)
	known, err := s.loadPhotos(ctx)
	if err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	seen := map[string]bool{}
	var fresh []fileInfo
	var freshHash []string
	for _, f := range files {
		if seen[f.path] {
			continue // under two of the roots given
		}
		seen[f.path] = true
		rep.Seen++
		if s.Dialect == Postgres && !utf8.ValidString(f.path) {
			// PostgreSQL's text refuses the bytes, and the refusal would
			// stop the whole run; SQLite keeps them as they are.
			rep.Failed = append(rep.Failed, BadPhoto{Path: f.path,
				Error: "the file name is not valid UTF-8, which a PostgreSQL library cannot store: rename the file"})
			continue
		}
		r, ok := known[f.path]
		if ok && r.status == "pending" {
			continue // left by a stopped run: described below
		}
		// A photo that failed before is tried again: a permission fixed
		// since does not change the file's size or time.
		if ok && r.size == f.size && r.mtime == f.mtime && r.pipeline == ix.Pipeline && r.status != "bad" {
			rep.Unchanged++
			continue // not even read
		}
		hash, herr := HashFile(f.path)
		if herr != nil {
			hash = ""
		}
		if !ok {
			fresh = append(fresh, f)
			freshHash = append(freshHash, hash)
			continue
		}
		changed := hash != r.hash || r.pipeline != ix.Pipeline
		if r.status == "bad" && !changed && hash != "" && !strings.HasPrefix(r.err, namingFailed) {
			// The same bytes failed with the same pipeline: they would
			// fail alike (and an indexer started later would describe
			// them a second time). One that could not be read has no
			// hash, and is tried again: a permission fixed since does
			// not change the file's size or time.
			rep.Failed = append(rep.Failed, BadPhoto{Path: f.path, Error: r.err})
			if err := s.refresh(ctx, r, f, hash, false); err != nil {
				return err
			}
			continue
		}
		if err := s.refresh(ctx, r, f, hash, changed || r.status == "bad"); err != nil {
			return err
		}
		switch {
		case changed:
			rep.Changed++
		case r.status != "bad":
			rep.Unchanged++ // touched, same content
		}
	}
	gone := map[string][]photoRow{} // by hash
	for p, r := range known {
		if !seen[p] && under(p, abs) {
			gone[r.hash] = append(gone[r.hash], r)
		}
	}
	for i, f := range fresh {
		if g := gone[freshHash[i]]; freshHash[i] != "" && len(g) > 0 {
			if err := s.move(ctx, g[0], f); err != nil {
				return err
			}
			gone[freshHash[i]] = g[1:]
			rep.Moved++
			continue
		}
		added, err := s.addPending(ctx, f, freshHash[i])
		if err != nil {
			return err
		}
		if added {
			rep.Added++
		}
	}
	return s.removeGone(ctx, gone, rep)
}

// refresh records a known path's new size and time and, when redo (its
// content changed, or its faces came from another pipeline), marks it for
// describing again. Its old faces stay until the new ones replace them in
// one transaction (see savePhoto).
func (s *Store) refresh(ctx context.Context, r photoRow, f fileInfo, hash string, redo bool) error {
	query := `UPDATE photos SET size = ?, mtime = ? WHERE id = ?`
	args := []any{f.size, f.mtime, r.id}
	if redo {
		query = `UPDATE photos SET hash = ?, size = ?, mtime = ?, status = 'pending', error = '' WHERE id = ?`
		args = append([]any{hash}, args...)
	}
	_, err := s.DB.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("library %s: photo %s: %w", s.Source, f.path, err)
	}
	return nil
}

func (s *Store) move(ctx context.Context, r photoRow, f fileInfo) error {
	_, err := s.DB.ExecContext(ctx, s.q(`UPDATE photos SET path = ?, size = ?, mtime = ? WHERE id = ?`), f.path, f.size, f.mtime, r.id)
	if err != nil {
		return fmt.Errorf("library %s: photo moved from %s to %s: %w", s.Source, r.path, f.path, err)
	}
	return nil
}

// addPending adds a new photo; a row another indexer added meanwhile wins,
// and added is false: that indexer counts it.
func (s *Store) addPending(ctx context.Context, f fileInfo, hash string) (added bool, err error) {
	res, err := s.DB.ExecContext(ctx, s.q(`INSERT INTO photos (path, hash, size, mtime, status) VALUES (?, ?, ?, ?, 'pending')
ON CONFLICT (path) DO NOTHING`), f.path, hash, f.size, f.mtime)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("library %s: photo %s: %w", s.Source, f.path, err)
	}
	return n > 0, nil
}

// removeGone deletes the rows of photos no longer on disk, with their
// faces. The file is checked once more, so a file the walk could not see
// (an unreadable folder) keeps its faces.
func (s *Store) removeGone(ctx context.Context, gone map[string][]photoRow, rep *Report) error {
	for _, rs := range gone {
		for _, r := range rs {
			if _, err := os.Lstat(r.path); !errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if _, err := s.DB.ExecContext(ctx, s.q(`DELETE FROM photos WHERE id = ?`), r.id); err != nil {
				return fmt.Errorf("library %s: removing vanished photo %s: %w", s.Source, r.path, err)
			}
			rep.Removed++
		}
	}
	return nil
}
