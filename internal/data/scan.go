package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Sample is one usable photo.
type Sample struct {
	Path   string // path as scanned (root joined with class folder and file name)
	Class  int    // index into Dataset.Classes (sorted folder names, like torchvision's ImageFolder)
	SHA256 string // hex digest of the file bytes (duplicate detection, descriptor cache keys)
	// Width and Height are the displayed size from the header, that is after
	// the EXIF orientation (a portrait phone photo is taller than wide).
	Width, Height int
}

// Skipped is a file that could not be used, with the reason ("truncated
// JPEG: unexpected EOF", "zero-byte file", "not an image", "declares
// 20000x20000 = 400 MP, over the 50 MP limit").
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Dataset is the result of scanning an ImageFolder.
type Dataset struct {
	Root       string
	Classes    []string
	Samples    []Sample
	Skipped    []Skipped
	Duplicates [][]int // groups (len>=2) of indices into Samples with identical bytes
}

// ScanOptions tunes Scan. The zero value is the default.
type ScanOptions struct {
	MaxPixels int // 0 = DefaultMaxPixels
	Workers   int // 0 = twice GOMAXPROCS (reading overlaps with hashing)
	// Verify fully decodes every image instead of only those whose ending
	// looks wrong. Without it, a file that is damaged in the middle but ends
	// properly is found only when the loader decodes it.
	Verify bool
}

// ErrNoImages is returned (wrapped) when a folder has classes but not one
// usable image; the Dataset is returned alongside so the reasons can be shown.
var ErrNoImages = errors.New("no usable images")

// Scan reads an ImageFolder: every non-hidden sub-folder of root is a class
// (sorted by name, so class indices match torchvision's), and every
// non-hidden file below it, in sorted path order, is a candidate photo.
// Files directly in root are ignored, as torchvision does.
//
// Symbolic links: a class folder may be a link (it is followed) unless it
// leads back inside the data folder or to a folder another class already
// is (data/zz -> data would make a class of every other class's photos):
// such a class is left out and listed in Skipped. A file may be a link too;
// linked directories inside a class are not descended, which rules out
// cycles. FIFOs, devices and sockets are listed in Skipped, never opened.
//
// Each file is read once, hashed (SHA-256) and its header checked: size,
// pixel limit (refused before decoding), format. Files whose ending looks
// truncated (no JPEG end marker, no PNG IEND chunk, ...), and every BMP and
// TIFF, are also fully decoded so a broken file lands in Skipped here rather
// than mid-training; opts.Verify decodes everything.
//
// Scan fails only when root cannot be read, holds no class folder, or holds
// no usable image (ErrNoImages, with the Dataset).
func Scan(root string, opts ScanOptions) (*Dataset, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", root, unwrapErr(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("data folder %s: not a directory", root)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: %w", root, unwrapErr(err))
	}
	ds := &Dataset{Root: root}
	type file struct {
		path  string
		class int
	}
	var files []file
	classDirs := classFolders{root: root}
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		if reason := classDirs.admit(e.Name(), e.Type()&fs.ModeSymlink != 0); reason != "" {
			ds.Skipped = append(ds.Skipped, Skipped{dir, reason})
			continue
		}
		class := len(ds.Classes)
		ds.Classes = append(ds.Classes, e.Name())
		paths, skipped := listFiles(dir)
		ds.Skipped = append(ds.Skipped, skipped...)
		for _, p := range paths {
			files = append(files, file{p, class})
		}
	}
	if len(ds.Classes) == 0 {
		return nil, fmt.Errorf("data folder %s has no class sub-folders (expected one folder of photos per person)", root)
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	type result struct {
		sample Sample
		reason string
	}
	results := make([]result, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(workers, max(len(files), 1)) {
		wg.Go(func() {
			for i := range next {
				s, err := inspect(files[i].path, opts)
				if err != nil {
					results[i].reason = reasonOf(err)
					continue
				}
				s.Class = files[i].class
				results[i].sample = s
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()

	byHash := map[string][]int{}
	for i, r := range results {
		if r.reason != "" {
			ds.Skipped = append(ds.Skipped, Skipped{files[i].path, r.reason})
			continue
		}
		byHash[r.sample.SHA256] = append(byHash[r.sample.SHA256], len(ds.Samples))
		ds.Samples = append(ds.Samples, r.sample)
	}
	sort.Slice(ds.Skipped, func(i, j int) bool { return ds.Skipped[i].Path < ds.Skipped[j].Path })
	for _, g := range byHash {
		if len(g) > 1 {
			ds.Duplicates = append(ds.Duplicates, g)
		}
	}
	sort.Slice(ds.Duplicates, func(i, j int) bool { return ds.Duplicates[i][0] < ds.Duplicates[j][0] })
	if len(ds.Samples) == 0 {
		return ds, fmt.Errorf("data folder %s: %w (%d files skipped)", root, ErrNoImages, len(ds.Skipped))
	}
	return ds, nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

func unwrapErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// listFiles returns the non-hidden files below dir in sorted order, and the
// sub-folders it could not read.
func listFiles(dir string) (paths []string, skipped []Skipped) {
	var walk func(d string)
	walk = func(d string) {
		entries, err := os.ReadDir(d)
		if err != nil {
			skipped = append(skipped, Skipped{d, "unreadable folder: " + unwrapErr(err).Error()})
			return
		}
		for _, e := range entries {
			if hidden(e.Name()) {
				continue
			}
			p := filepath.Join(d, e.Name())
			switch {
			case e.IsDir():
				walk(p)
			case e.Type()&fs.ModeSymlink != 0:
				st, err := os.Stat(p)
				if err != nil {
					skipped = append(skipped, Skipped{p, "broken symbolic link"})
				} else if st.Mode().IsRegular() {
					paths = append(paths, p)
				} else if !st.IsDir() {
					skipped = append(skipped, Skipped{p, "symbolic link to a " + FileKind(st.Mode()) + ", not a photo"})
				}
			case e.Type().IsRegular():
				paths = append(paths, p)
			default:
				// Listed, not silently dropped: a FIFO or device among the
				// photos is worth knowing about (and must never be opened).
				skipped = append(skipped, Skipped{p, "not a regular file (" + FileKind(e.Type()) + ")"})
			}
		}
	}
	walk(dir)
	sort.Strings(paths)
	return paths, skipped
}

// reasonOf is the human reason for a Skipped entry.
func reasonOf(err error) string {
	var ie *ImageError
	if errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

// inspect reads, hashes and checks one file.
func inspect(path string, opts ScanOptions) (Sample, error) {
	data, err := readFile(path)
	if err != nil {
		return Sample{}, err
	}
	h, err := readHeader(data, path, opts.MaxPixels)
	if err != nil {
		return Sample{}, err
	}
	if opts.Verify || !endsWell(h.codec.format, data) {
		if _, err := decodeBody(data, h); err != nil {
			return Sample{}, classify(path, h.codec.format, data, err)
		}
	}
	sum := sha256.Sum256(data)
	w, ht := h.displaySize()
	return Sample{Path: path, SHA256: hex.EncodeToString(sum[:]), Width: w, Height: ht}, nil
}

// endsWell is a cheap truncation test: the format's closing structure is
// present at the end of the file. Files that fail it are fully decoded, so a
// false alarm (e.g. a phone's metadata trailer after a JPEG) only costs time.
// BMP and TIFF have no closing structure and always get the full decode.
func endsWell(f Format, data []byte) bool {
	switch f {
	case JPEG:
		// Tolerate the zero or newline padding some tools append.
		end := bytes.TrimRight(data, "\x00\r\n ")
		return bytes.HasSuffix(end, []byte{0xff, 0xd9})
	case PNG:
		return bytes.HasSuffix(data, []byte("IEND\xaeB`\x82"))
	case GIF:
		return bytes.HasSuffix(bytes.TrimRight(data, "\x00"), []byte{0x3b})
	case WEBP:
		return len(data) >= 8 && uint64(binary.LittleEndian.Uint32(data[4:]))+8 <= uint64(len(data))
	}
	return false
}

// classFolders decides which class folders Scan admits, by where they
// really are.
type classFolders struct {
	root     string
	realRoot string
	seen     map[string]string // resolved folder -> class name
}

// admit returns why the class folder name must be left out, or "".
func (c *classFolders) admit(name string, link bool) string {
	// Absolute, both: a relative root would not compare with a link's
	// absolute target.
	real, err := realPath(filepath.Join(c.root, name))
	if err != nil {
		return "class folder cannot be resolved: " + unwrapErr(err).Error()
	}
	if c.seen == nil {
		c.seen = map[string]string{}
		if c.realRoot, err = realPath(c.root); err != nil {
			c.realRoot = c.root
		}
	}
	if other, ok := c.seen[real]; ok {
		return fmt.Sprintf("class folder is a symbolic link to the same folder as class %s; left out", other)
	}
	if link {
		rel, err := filepath.Rel(c.realRoot, real)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Sprintf("class folder is a symbolic link to %s, inside the data folder; left out (it would repeat other classes' photos)", real)
		}
	}
	c.seen[real] = name
	return ""
}

// realPath is path absolute, with every symbolic link resolved.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}
