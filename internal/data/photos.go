package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ListPhotos lists the given files and, for folders, every photo under
// them at any depth (by extension, sorted; other files are skipped), so a
// command can take a whole data set. A path that cannot be looked at, and
// a folder without photos, are listed as themselves: reading them then
// fails with an error naming them, in their place, without stopping the
// others.
func ListPhotos(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.IsDir() {
			files = append(files, p)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(p, photoEntry(p, &files))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(files) == n {
			files = append(files, p)
		}
		slices.Sort(files[n:])
	}
	return files, nil
}

// photoEntry is ListPhotos' walk of the folder root: photos are listed,
// and so is a subfolder that cannot be read, as itself (reading it then
// fails naming it), while the walk goes on: one locked subfolder used to
// stop a command on the whole folder. Only root itself failing stops it.
func photoEntry(root string, files *[]string) fs.WalkDirFunc {
	return func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil && path == root:
			return err
		case err != nil:
			*files = append(*files, path)
		case !d.IsDir() && IsPhotoName(path):
			*files = append(*files, path)
		}
		return nil
	}
}

// IsPhotoName says whether a file met in a folder is taken as a photo: by
// extension, since sniffing every file of a large folder costs a read each.
// Hidden files (editors' and systems' droppings) are not.
func IsPhotoName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp":
		return !strings.HasPrefix(filepath.Base(path), ".")
	}
	return false
}

// CheckEmptyFolder accepts a folder that does not exist yet or is empty.
// The generated data set must never go into a folder that holds anything:
// it would overwrite earlier shapes or, worse, mix them into someone's
// photos.
func CheckEmptyFolder(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s exists and is not a folder; give a new folder to write the images into", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty (it has %s); synth writes only into a new or empty folder, so it never overwrites or mixes with other images",
			dir, entries[0].Name())
	}
	return nil
}

// SameFile says whether a and b name one existing file, so that an output
// never overwrites an input under another name.
func SameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
