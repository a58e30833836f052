package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"starid/internal/atomicfile"
	"starid/internal/library"
)

// keepFile stores data (whose SHA-256 is hash) in dir as name+ext, never
// writing over a file already there: the bytes go to a temporary file,
// synced, which is then hard-linked to its name (a link fails, atomically,
// where a name is taken; a rename would replace). A file already under the
// name with the same content is the one kept; one with other content (a
// file someone put there, or a torn copy) is left alone and the photo
// takes the next free name, name-1, name-2... The folder is synced so the
// name outlives a crash before the library row that points to it.
func keepFile(dir, name, ext string, data []byte, hash string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("uploads folder %s: %w", dir, err)
	}
	// A server killed between writing and linking leaves its temporary
	// file: the first upload into each folder after a start removes those
	// an hour old (a live upload's is seconds old).
	if _, done := cleanedDirs.LoadOrStore(dir, true); !done {
		atomicfile.CleanStale(dir, time.Hour)
	}
	tmp, err := writeTemp(dir, data)
	if err != nil {
		return "", fmt.Errorf("uploads folder %s: %w", dir, err)
	}
	defer os.Remove(tmp)
	for i := 0; i < maxKeepTries; i++ {
		path := filepath.Join(dir, name+ext)
		if i > 0 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", name, i, ext))
		}
		err := os.Link(tmp, path)
		if err == nil {
			return path, syncDir(dir)
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("keeping the upload as %s: %w", path, err)
		}
		if sameContent(path, hash) {
			return path, nil
		}
	}
	return "", fmt.Errorf("keeping the upload in %s: %d files named %s* hold other content", dir, maxKeepTries, name)
}

// cleanedDirs are the upload folders this process has cleaned.
var cleanedDirs sync.Map

// maxKeepTries bounds the names keepFile tries for one photo.
const maxKeepTries = 16

func writeTemp(dir string, data []byte) (string, error) {
	// Named as atomicfile names its temporary files, so CleanStale
	// knows them.
	f, err := os.CreateTemp(dir, ".upload.tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// sameContent reports whether path is a regular file whose SHA-256 is
// hash (a link or folder under the name is never taken for the photo).
func sameContent(path, hash string) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	got, err := library.HashFile(path)
	return err == nil && got == hash
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("uploads folder %s: %w", dir, err)
	}
	return nil
}
