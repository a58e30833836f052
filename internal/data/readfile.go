package data

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ReadFile reads a whole photo (or any input file) into memory, but only a
// regular file of at most limit bytes (0: MaxFileBytes). Every command that
// reads a user's file goes through it, because the plain os.ReadFile would
// grow without end on /dev/zero and block forever opening a FIFO nobody
// writes to. Errors are *ImageError naming the file and the problem ("not a
// regular file (named pipe)", "file of 1.5 GB, over the 1024 MB limit").
//
// The file is opened non-blocking and its type taken from the open
// descriptor, so a FIFO swapped in after a directory listing cannot hang
// the open, and the read is bounded too in case the file grows meanwhile.
func ReadFile(path string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = MaxFileBytes
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &ImageError{Path: path, Reason: "unreadable: " + unwrapPathError(err), Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &ImageError{Path: path, Reason: "unreadable: " + unwrapPathError(err), Err: err}
	}
	if err := CheckRegular(path, fi, limit); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &ImageError{Path: path, Reason: "unreadable: " + unwrapPathError(err), Err: err}
	}
	if int64(len(b)) > limit {
		return nil, fail(path, ErrTooLarge, nil, "file grew past the %s limit while being read", sizeText(limit))
	}
	return b, nil
}

// CheckRegular refuses what ReadFile refuses, from a FileInfo already at
// hand (a directory listing): anything but a regular file, or one larger
// than limit bytes (0: MaxFileBytes).
func CheckRegular(path string, fi fs.FileInfo, limit int64) error {
	if limit <= 0 {
		limit = MaxFileBytes
	}
	if !fi.Mode().IsRegular() {
		return fail(path, ErrNotImage, nil, "not a regular file (%s)", FileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return fail(path, ErrTooLarge, nil, "file of %s, over the %s limit", sizeText(fi.Size()), sizeText(limit))
	}
	return nil
}

// FileKind names a file type for messages.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m.IsDir():
		return "folder"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	}
	return "special file"
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
