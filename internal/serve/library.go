package serve

import (
	"context"
	"fmt"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"starid/internal/faces"
	"starid/internal/library"
)

// Library connects the server to a photo library (starid serve --db): the
// page and the API then list the library's people, name and merge them,
// search it, add uploaded photos to it and name faces on their photos.
// Several servers may share one PostgreSQL library: everything a request
// answers is read from the database, so a name given through one server is
// what the others answer.
type Library struct {
	Store *library.Store
	// Finder finds the faces of an uploaded photo with their descriptors
	// (the face pipeline).
	Finder Finder
	// Pipeline names the face pipeline's version, stored with each photo
	// so that `starid index` knows which photos to describe again.
	Pipeline string
	// Uploads is the folder that keeps uploaded photos: the library stores
	// a path per photo, and thumbnails are cut from the files. Servers
	// sharing a library should share this folder too (a network mount),
	// or each shows thumbnails of its own uploads only.
	Uploads string
}

// Finder finds the faces of a photo with landmarks and descriptors.
type Finder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// Namer is what a Recognizer may also do: name faces found elsewhere (by
// the Library's Finder), in the order given, so an upload to the library
// runs the face pipeline once. A Recognizer without it leaves the naming
// of uploads to the library's named people.
type Namer interface {
	Name(ctx context.Context, img *faces.Image, found []faces.Face) ([]Face, error)
}

// Library limits.
const (
	thumbCacheEntries = 4096 // about 20 MB of face thumbnails
	maxNameRunes      = 200
	maxJSONBody       = 4 << 10
	defaultFacesShown = 12
	maxTop            = 1000
)

// libState is a server's library, its gallery snapshot and caches.
type libState struct {
	Library
	// thumbs caches encoded face thumbnails by face id; a face's box and
	// photo never change (describing a photo again makes new faces).
	thumbs *lru.Cache[int64, []byte]
	// thumbSlots bounds the photos decoded for thumbnails at once; a
	// request waits for a slot, within its timeout.
	thumbSlots chan struct{}
	// groupMu keeps this server's uploads from grouping at once (the
	// library serializes servers sharing it).
	groupMu sync.Mutex

	galMu   sync.Mutex
	gallery *library.Gallery
	stamp   string
}

func newLibState(l *Library, slots int) *libState {
	if l == nil {
		return nil
	}
	if l.Store == nil {
		panic("serve: Library without a Store")
	}
	c, err := lru.New[int64, []byte](thumbCacheEntries)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &libState{Library: *l, thumbs: c, thumbSlots: make(chan struct{}, slots)}
}

// snapshot is the gallery of every descriptor, reloaded when the library's
// faces changed since it was read (by this server or another).
func (l *libState) snapshot(ctx context.Context) (*library.Gallery, error) {
	stamp, err := l.Store.FacesStamp(ctx)
	if err != nil {
		return nil, err
	}
	l.galMu.Lock()
	defer l.galMu.Unlock()
	if l.gallery != nil && stamp == l.stamp {
		return l.gallery, nil
	}
	g, err := l.Store.LoadGallery(ctx)
	if err != nil {
		return nil, err
	}
	l.gallery, l.stamp = g, stamp
	return g, nil
}

// group places the faces that have no person yet (new uploads) into
// people: next to named people's faces they take the name.
func (l *libState) group(ctx context.Context) error {
	l.groupMu.Lock()
	defer l.groupMu.Unlock()
	_, err := l.Store.Group(ctx, library.GroupOptions{})
	return err
}

// libraryRecognizer names faces from the library alone (serve --db without
// a run): a face is the named person whose stored face is nearest, when
// within library.SameThreshold.
type libraryRecognizer struct {
	lib *libState
}

func (r libraryRecognizer) Info() ModelInfo {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultRequestTimeout)
	defer cancel()
	names, err := r.lib.Store.NamedPeople(ctx)
	if err != nil {
		names = nil // the model line then says no one is known yet
	}
	return ModelInfo{Classes: names, Kind: "library", Threshold: library.SameThreshold}
}

func (r libraryRecognizer) Recognize(ctx context.Context, img *faces.Image) ([]Face, error) {
	if r.lib.Finder == nil {
		return nil, fmt.Errorf("no face finder: the face models were not loaded")
	}
	found, err := r.lib.Finder.Faces(img)
	if err != nil {
		return nil, err
	}
	return r.Name(ctx, img, found)
}

// namedNeighbours is how many nearest faces are looked at for names.
const namedNeighbours = 20

func (r libraryRecognizer) Name(ctx context.Context, _ *faces.Image, found []faces.Face) ([]Face, error) {
	g, err := r.lib.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Face, len(found))
	for i, f := range found {
		out[i] = Face{Box: roundBox(f.Box), Name: UnknownName, Unknown: true, Top: []Candidate{}}
		if len(f.Descriptor) != library.DescriptorSize {
			continue
		}
		ms := g.Like(f.Descriptor, namedNeighbours)
		if err := r.lib.Store.Resolve(ctx, ms); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if m.Person == "" || seen[m.Person] {
				continue
			}
			seen[m.Person] = true
			// A similarity in [0, 1] from the distance, 1 for the same
			// descriptor; the threshold maps to 1 - SameThreshold.
			out[i].Top = append(out[i].Top, Candidate{Name: m.Person, Probability: max(0, 1-m.Distance)})
		}
		if len(out[i].Top) > 0 {
			best := out[i].Top[0]
			out[i].Confidence = best.Probability
			if 1-best.Probability <= library.SameThreshold {
				out[i].Name, out[i].Unknown = best.Name, false
			}
		}
	}
	return out, nil
}

func roundBox(b faces.Box) [4]int {
	r := func(v float64) int {
		if v < 0 {
			return int(v - 0.5)
		}
		return int(v + 0.5)
	}
	return [4]int{r(b.X), r(b.Y), r(b.W), r(b.H)}
}
