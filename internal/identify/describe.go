package identify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"starid/internal/data"
	"starid/internal/faces"
)

// Photo is what Describe found in one photo.
type Photo struct {
	Path  string
	Key   string       // SHA-256 of the file's bytes, hex
	Faces []faces.Face // largest box first; empty when no face was found
	Err   error        // the photo could not be read or described
}

// Largest is the photo's main face (faces.MainFace: the largest of the
// faces the detector is nearly sure of), or nil.
func (p *Photo) Largest() *faces.Face {
	i := faces.MainFace(p.Faces)
	if i < 0 {
		return nil
	}
	return &p.Faces[i]
}

// Stats counts where Describe's answers came from.
type Stats struct {
	Cached   int // answered from the cache
	Computed int // described by the Describer
	Corrupt  int // cache entries found damaged and recomputed
	// Unmarked counts cache entries described again because they lack
	// the landmarks DescribeOptions.Landmarks asked for (also counted in
	// Computed when that succeeded).
	Unmarked  int
	Unusable  int // photos that could not be read or described
	CacheErrs int // entries that could not be written (the answer is still used)
}

// DescribeOptions tunes Describe. The zero value describes with one worker
// per core, without a cache or progress display.
type DescribeOptions struct {
	Cache   *Cache
	Workers int // 0: GOMAXPROCS
	// Progress, when not nil, is told after each photo how many of the
	// photos are done (progress.Bar.Func draws it on a terminal).
	Progress func(done, total int)
	// Note, when not nil, is told about damaged cache entries and cache
	// write failures, which do not stop the work.
	Note func(msg string)
	// Landmarks asks for every face's 68 landmarks (to align the faces).
	// Cache entries written before landmarks were cached have none: such
	// a photo is described again and its entry rewritten with them.
	// Without it those entries answer as they are.
	Landmarks bool
}

// Describe finds the faces of every photo. keys, when not nil, holds the
// photos' SHA-256 as a scan computed them, so that cached photos are not
// even read; a photo that must be described is read once and keyed by the
// bytes it actually had. Results are in paths order. Describe stops early
// only when ctx is cancelled (then it returns ctx's error).
func Describe(ctx context.Context, d Describer, paths, keys []string, opt DescribeOptions) ([]Photo, Stats, error) {
	if keys != nil && len(keys) != len(paths) {
		return nil, Stats{}, fmt.Errorf("identify: %d keys for %d photos", len(keys), len(paths))
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]Photo, len(paths))
	var (
		mu   sync.Mutex
		st   Stats
		done int
	)
	note := func(format string, args ...any) {
		if opt.Note != nil {
			opt.Note(fmt.Sprintf(format, args...))
		}
	}
	var firstPutErr error
	opt.Cache.cleanStale()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(paths), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				key := ""
				if keys != nil {
					key = keys[i]
				}
				p, how := describeOne(d, opt.Cache, paths[i], key, opt.Landmarks)
				out[i] = p
				mu.Lock()
				switch how.source {
				case fromCache:
					st.Cached++
				case computed:
					st.Computed++
				}
				if p.Err != nil {
					st.Unusable++
				}
				if how.unmarked {
					st.Unmarked++
				}
				if how.corrupt != nil {
					st.Corrupt++
					note("warning: %v; described the photo again", how.corrupt)
				}
				if how.putErr != nil {
					// Summed up once at the end: a full disk fails every
					// photo alike.
					if st.CacheErrs == 0 {
						firstPutErr = how.putErr
					}
					st.CacheErrs++
				}
				done++
				if opt.Progress != nil {
					opt.Progress(done, len(paths))
				}
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for i := range paths {
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if st.CacheErrs > 0 {
		note("warning: %d of %d descriptors could not be written to the cache in %s (%s); they were used, but will be computed again next time",
			st.CacheErrs, len(paths), opt.Cache.Dir, rootCause(firstPutErr))
	}
	return out, st, err
}

type source int

const (
	failed source = iota
	fromCache
	computed
)

type outcome struct {
	source   source
	corrupt  error
	putErr   error
	unmarked bool // the cached entry lacked the landmarks asked for
}

// describeOne answers one photo from the cache or the describer; with
// marks, an entry without landmarks counts as a miss.
func describeOne(d Describer, c *Cache, path, key string, marks bool) (Photo, outcome) {
	p := Photo{Path: path, Key: key}
	var how outcome
	get := func(key string) ([]faces.Face, bool) {
		// A cache that cannot be read is a miss: the photo is described
		// again and Put reports the cache's trouble if it persists.
		found, ok, err := c.Get(key)
		if errors.Is(err, errCorrupt) {
			how.corrupt = err
		}
		if ok && marks && !HasLandmarks(found) {
			how.unmarked = true
			return nil, false
		}
		return found, ok
	}
	if key != "" {
		if found, ok := get(key); ok {
			p.Faces = found
			how.source = fromCache
			return p, how
		}
	}
	b, err := data.ReadFile(path, 0)
	if err != nil {
		p.Err = err
		return p, how
	}
	sum := sha256.Sum256(b)
	p.Key = hex.EncodeToString(sum[:])
	if p.Key != key {
		// No key given, or the file changed since it was scanned.
		if found, ok := get(p.Key); ok {
			p.Faces = found
			how.source = fromCache
			return p, how
		}
	}
	rgba, err := data.Decode(bytes.NewReader(b), path, data.DefaultMaxPixels)
	if err != nil {
		p.Err = err
		return p, how
	}
	found, err := d.Faces(faces.FromImage(rgba))
	if err != nil {
		p.Err = fmt.Errorf("%s: %w", path, err)
		return p, how
	}
	for i, f := range found {
		if len(f.Descriptor) != DescriptorLen || !finite(f.Descriptor) {
			p.Err = fmt.Errorf("%s: face %d: the describer gave a descriptor of length %d (or non-finite values), want %d",
				path, i, len(f.Descriptor), DescriptorLen)
			return p, how
		}
	}
	// Largest first, whatever order the describer used; equal boxes keep
	// their order so the answer is repeatable.
	found = slices.Clone(found)
	slices.SortStableFunc(found, func(a, b faces.Face) int {
		switch aa, ba := a.Box.Area(), b.Box.Area(); {
		case aa > ba:
			return -1
		case aa < ba:
			return 1
		}
		return 0
	})
	p.Faces = found
	how.source = computed
	how.putErr = c.Put(p.Key, found)
	return p, how
}

// rootCause is the innermost reason of err ("no space left on device"),
// without the paths each layer added.
func rootCause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
