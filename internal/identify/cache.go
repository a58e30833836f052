package identify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"starid/internal/atomicfile"
	"starid/internal/faces"
)

// EnvCache names the environment variable that moves the descriptor cache.
const EnvCache = "STARID_CACHE"

// Cache stores the faces found in photos on disk, one small JSON file per
// photo, under Dir/<first two hex digits>/<sha256 of the photo>.json. Dir
// is specific to one pipeline version (see DefaultCacheDir), and every
// entry repeats the version and its key, so an entry is never used for the
// wrong photo or pipeline. A nil *Cache caches nothing.
type Cache struct {
	Dir     string
	Version string // faces.PipelineVersion the entries were made with
}

// DefaultCacheDir is the cache folder for version: under $STARID_CACHE
// when set, else starid/descriptors under the user's cache folder, in a
// sub-folder named by a hash of the version so that a new pipeline starts
// a fresh cache beside the old one.
func DefaultCacheDir(version string) (string, error) {
	root := os.Getenv(EnvCache)
	if root == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache folder for face descriptors (%v); set %s or use --cache", err, EnvCache)
		}
		root = filepath.Join(c, "starid", "descriptors")
	}
	return CacheDirUnder(root, version), nil
}

// CacheDirUnder is the cache folder for version under a chosen root
// (--cache DIR).
func CacheDirUnder(root, version string) string { return filepath.Join(root, VersionDir(version)) }

// VersionDir is the cache sub-folder name of a pipeline version.
func VersionDir(version string) string {
	h := sha256.Sum256([]byte(version))
	return hex.EncodeToString(h[:8])
}

// cachedFace is one face of an entry. Landmarks came later than the
// rest: they are left out of the JSON when absent, so that entries written
// before them keep their exact bytes and so their check sums.
type cachedFace struct {
	Box        [4]float64   `json:"box"` // x, y, w, h
	Score      float64      `json:"score"`
	Descriptor []float32    `json:"descriptor"`
	Landmarks  [][2]float64 `json:"landmarks,omitempty"` // 68 points (x, y), or none in older entries
}

// cacheEntry is one photo's file. Check is the SHA-256 of the JSON of
// Faces, so that a damaged number is caught, not only damaged syntax.
type cacheEntry struct {
	Version string       `json:"version"`
	Key     string       `json:"key"`
	Faces   []cachedFace `json:"faces"` // empty: no face found
	Check   string       `json:"check"`
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.Dir, key[:2], key+".json")
}

// errCorrupt marks an entry that exists but cannot be trusted.
var errCorrupt = errors.New("corrupt cache entry")

// Get returns the faces cached for key (the photo's SHA-256 in hex), with
// their landmarks when the entry has them (entries written before
// landmarks were cached have none: see HasLandmarks). ok is false when
// there is no entry; err (wrapping errCorrupt) when the entry is
// unreadable or fails its checks, in which case the caller recomputes and
// Put replaces it.
func (c *Cache) Get(key string) (found []faces.Face, ok bool, err error) {
	if c == nil || len(key) < 2 {
		return nil, false, nil
	}
	b, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, false, fmt.Errorf("%s: %w: %v", c.path(key), errCorrupt, err)
	}
	if e.Version != c.Version || e.Key != key {
		return nil, false, fmt.Errorf("%s: %w: made for %q of %s", c.path(key), errCorrupt, e.Version, e.Key)
	}
	if sum, err := facesSum(e.Faces); err != nil || sum != e.Check {
		return nil, false, fmt.Errorf("%s: %w: checksum mismatch", c.path(key), errCorrupt)
	}
	out := make([]faces.Face, len(e.Faces))
	for i, f := range e.Faces {
		if len(f.Descriptor) != DescriptorLen || !finite(f.Descriptor) {
			return nil, false, fmt.Errorf("%s: %w: face %d has a bad descriptor", c.path(key), errCorrupt, i)
		}
		out[i] = faces.Face{
			Detection:  faces.Detection{Box: faces.Box{X: f.Box[0], Y: f.Box[1], W: f.Box[2], H: f.Box[3]}, Score: f.Score},
			Descriptor: f.Descriptor,
		}
		if len(f.Landmarks) == 0 {
			continue
		}
		if len(f.Landmarks) != faces.NumLandmarks {
			return nil, false, fmt.Errorf("%s: %w: face %d has %d landmarks", c.path(key), errCorrupt, i, len(f.Landmarks))
		}
		out[i].Landmarks = make([]faces.Point, len(f.Landmarks))
		for j, p := range f.Landmarks {
			if math.IsNaN(p[0]) || math.IsInf(p[0], 0) || math.IsNaN(p[1]) || math.IsInf(p[1], 0) {
				return nil, false, fmt.Errorf("%s: %w: face %d has a bad landmark", c.path(key), errCorrupt, i)
			}
			out[i].Landmarks[j] = faces.Point{X: p[0], Y: p[1]}
		}
	}
	return out, true, nil
}

// HasLandmarks reports whether every face in found has its 68 landmarks
// (true for no faces): what aligning the faces needs.
func HasLandmarks(found []faces.Face) bool {
	for _, f := range found {
		if len(f.Landmarks) != faces.NumLandmarks {
			return false
		}
	}
	return true
}

// Put stores the faces of key atomically: the box, score, descriptor and,
// when the face has them, the landmarks. Landmarks are stored at full
// precision (JSON numbers round-trip float64 exactly), so a face aligned
// from the cache is aligned exactly as when it was found.
func (c *Cache) Put(key string, found []faces.Face) error {
	if c == nil || len(key) < 2 {
		return nil
	}
	e := cacheEntry{Version: c.Version, Key: key, Faces: make([]cachedFace, len(found))}
	for i, f := range found {
		e.Faces[i] = cachedFace{Box: [4]float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Score: f.Score, Descriptor: f.Descriptor}
		if len(f.Landmarks) == faces.NumLandmarks { // anything else could not be read back
			e.Faces[i].Landmarks = make([][2]float64, len(f.Landmarks))
			for j, p := range f.Landmarks {
				e.Faces[i].Landmarks[j] = [2]float64{p.X, p.Y}
			}
		}
	}
	sum, err := facesSum(e.Faces)
	if err != nil {
		return err
	}
	e.Check = sum
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path(key)), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(c.path(key), b)
}

// staleAge is how old a temporary file in the cache must be to count as a
// killed writer's leftover: writers share the cache without a lock, and a
// live one finishes its entry in milliseconds.
const staleAge = time.Hour

// cleanStale removes the temporary files that processes killed while
// writing an entry left in the cache's sub-folders.
func (c *Cache) cleanStale() {
	if c == nil {
		return
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 2 {
			atomicfile.CleanStale(filepath.Join(c.Dir, e.Name()), staleAge)
		}
	}
}

func facesSum(cf []cachedFace) (string, error) {
	b, err := json.Marshal(cf)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
