// Package atomicfile writes files so that a reader, or a training run
// resumed after kill -9, sees either the old content or the new, never a
// torn file: the data goes to a temporary sibling that is synced and then
// renamed over the target, and the folder is synced so the rename lasts.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Write runs write against a temporary file in path's folder and renames it
// over path only when writing, syncing and closing all succeeded. On any
// failure the temporary file is removed, path is untouched, and the error
// names path. The new file gets mode 0644 (os.CreateTemp makes 0600, and
// checkpoints, plots and JSON reports are ordinary files).
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Caught here, these would surface as a rename or create error about
	// the temporary file, a name the user never gave.
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder; give a file name to write", path)
	}
	f, err := os.CreateTemp(dir, "."+base+tempMark+"*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot create a file in folder %s: %w", path, filepath.Clean(dir), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("%s: %w", path, hideTemp(err, tmp))
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		// Some file systems cannot sync a folder; the data is safe either
		// way, only the rename's durability is at stake.
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes is Write for data already in memory.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// tempMark is in every temporary file's name: .NAME.tmp-RANDOM.
const tempMark = ".tmp-"

// hideTemp drops the temporary file's name from err: the user gave path,
// and a message about ".best.safetensors.tmp-81234" names a file that is
// already gone. The cause (no space left, ...) is kept and still matches
// errors.Is.
func hideTemp(err error, tmp string) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == tmp {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) && le.Old == tmp {
		return fmt.Errorf("cannot replace the file: %w", le.Err)
	}
	return err
}

// IsTemp reports whether a file name is one of Write's temporary files.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMark)
}

// CleanStale removes Write's temporary files in dir that were last changed
// more than olderThan ago: what a process killed mid-write (kill -9, power
// loss) left behind. A live writer's file is younger than any sensible
// olderThan, or the caller holds a lock that rules writers out (then
// olderThan may be 0). It returns the names removed.
func CleanStale(dir string, olderThan time.Duration) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < olderThan {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}
