package library

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
}

// fileInfo is one photo found on disk.
type fileInfo struct {
	path        string
	size, mtime int64
}

// walk lists the photos under roots (files given directly count too). A
// root that cannot be read stops the scan: taking a missing or unmounted
// folder for an emptied one would drop all its faces.
func walk(roots []string) ([]fileInfo, []string, error) {
	var files []fileInfo
	var abs []string
	for _, r := range roots {
		a, err := filepath.Abs(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r, err)
		}
		if _, err := os.Stat(a); err != nil {
			return nil, nil, fmt.Errorf("index %s: %w", r, err)
		}
		abs = append(abs, a)
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == a {
					return err
				}
				return nil // an unreadable subfolder is skipped; its rows stay (see removeGone)
			}
			if !d.Type().IsRegular() || !IsPhoto(p) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			files = append(files, fileInfo{path: p, size: info.Size(), mtime: info.ModTime().UnixNano()})
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("index %s: %w", r, err)
		}
	}
	return files, abs, nil
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

func hashFile(path string) (string, error) {
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
	rows, err := s.DB.QueryContext(ctx, `SELECT id, path, hash, size, mtime, pipeline, status FROM photos`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]photoRow{}
	for rows.Next() {
		var r photoRow
		if err := rows.Scan(&r.id, &r.path, &r.hash, &r.size, &r.mtime, &r.pipeline, &r.status); err != nil {
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
	files, abs, err := walk(roots)
	if err != nil {
		return err
	}
	known, err := s.loadPhotos(ctx)
	if err != nil {
		return fmt.Errorf("library %s: %w", s.Source, err)
	}
	seen := map[string]bool{}
	var fresh []fileInfo
	var freshHash []string
	for _, f := range files {
		rep.Seen++
		seen[f.path] = true
		r, ok := known[f.path]
		if ok && r.size == f.size && r.mtime == f.mtime && (r.pipeline == ix.Pipeline || r.status == "pending") {
			continue // unchanged: not even read
		}
		hash, herr := hashFile(f.path)
		if herr != nil {
			hash = ""
		}
		if !ok {
			fresh = append(fresh, f)
			freshHash = append(freshHash, hash)
			continue
		}
		redo := hash != r.hash || r.pipeline != ix.Pipeline
		if err := s.refresh(ctx, r, f, hash, redo); err != nil {
			return err
		}
		if redo {
			rep.Changed++
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
		if err := s.addPending(ctx, f, freshHash[i]); err != nil {
			return err
		}
		rep.Added++
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

// addPending adds a new photo; a row another indexer added meanwhile wins.
func (s *Store) addPending(ctx context.Context, f fileInfo, hash string) error {
	_, err := s.DB.ExecContext(ctx, s.q(`INSERT INTO photos (path, hash, size, mtime, status) VALUES (?, ?, ?, ?, 'pending')
ON CONFLICT (path) DO NOTHING`), f.path, hash, f.size, f.mtime)
	if err != nil {
		return fmt.Errorf("library %s: photo %s: %w", s.Source, f.path, err)
	}
	return nil
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
