package serve

import (
	"context"
	"fmt"
	"strings"
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
	maxNameRunes      = library.MaxNameRunes
	maxJSONBody       = 4 << 10
	defaultFacesShown = 12
	maxTop            = 1000
	// GET /api/v1/people pages: a library of 100,000 people is read a
	// page at a time, at most maxPeoplePage×maxFacesShown faces a page.
	defaultPeoplePage = 100
	maxPeoplePage     = 500
	maxFacesShown     = 100
	// GET /api/v1/people/{id}/photos pages: each photo comes with all
	// its faces.
	defaultPhotosPage = 50
	maxPhotosPage     = 200
	maxOffset         = 1_000_000_000 // keeps offset+limit far from overflowing
)

// libState is a server's library, its gallery snapshot and caches.
type libState struct {
	Library
	// thumbs caches encoded face thumbnails by face, photo and box.
	thumbs *lru.Cache[string, []byte]
	// placeMu makes this server's uploads place their faces one at a
	// time, so the second photo of a new person joins the first's group.
	placeMu sync.Mutex

	// galMu guards the gallery snapshot: searches read it together,
	// bringing it up to date excludes them.
	galMu   sync.RWMutex
	gallery *library.Gallery
	stamp   string
}

func newLibState(l *Library) *libState {
	if l == nil {
		return nil
	}
	if l.Store == nil {
		panic("serve: Library without a Store")
	}
	c, err := lru.New[string, []byte](thumbCacheEntries)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &libState{Library: *l, thumbs: c}
}

// withGallery runs fn on the gallery of every descriptor, brought up to
// date first when the library's faces changed since it was read (by this
// server or another): new faces are appended, so an upload costs its own
// rows, not a reading of the whole library.
func (l *libState) withGallery(ctx context.Context, fn func(g *library.Gallery) error) error {
	stamp, err := l.Store.FacesStamp(ctx)
	if err != nil {
		return err
	}
	l.galMu.RLock()
	if l.gallery != nil && stamp == l.stamp {
		defer l.galMu.RUnlock()
		return fn(l.gallery)
	}
	l.galMu.RUnlock()
	l.galMu.Lock()
	if l.gallery == nil || stamp != l.stamp {
		g := l.gallery
		if g == nil {
			g, err = l.Store.LoadGallery(ctx)
		} else {
			g, err = l.Store.ExtendGallery(ctx, g)
		}
		if err != nil {
			// A half-extended snapshot is not to be trusted.
			l.gallery, l.stamp = nil, ""
			l.galMu.Unlock()
			return err
		}
		l.gallery, l.stamp = g, stamp
	}
	l.galMu.Unlock()
	l.galMu.RLock()
	defer l.galMu.RUnlock()
	return fn(l.gallery)
}

// clientMessage is err for an API client: without the "library
// LOCATION: " the store puts first, since the server's file paths and
// database address are nobody else's business (the log keeps them).
func (l *libState) clientMessage(err error) string {
	return strings.ReplaceAll(err.Error(), "library "+l.Store.Source+": ", "")
}

// placeNeighbours is how many nearest faces vote on a new face's person.
const placeNeighbours = 20

// place gives each new face of an upload that has no person yet (the
// model named none) a person: the one most of its neighbours within
// library.GroupThreshold hold, the nearest first on a tie, which is one
// step of Chinese Whispers with the library's faces fixed, as the
// library's incremental grouping treats them; or a new unnamed person.
func (l *libState) place(ctx context.Context, ids []int64, descriptors [][]float32) error {
	l.placeMu.Lock()
	defer l.placeMu.Unlock()
	for i, id := range ids {
		var person int64
		err := l.withGallery(ctx, func(g *library.Gallery) error {
			ms := g.Like(descriptors[i], placeNeighbours+1)
			if err := l.Store.Resolve(ctx, ms); err != nil {
				return err
			}
			person = vote(ms, id)
			return nil
		})
		if err == nil {
			_, err = l.Store.PlaceFace(ctx, id, person)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// vote is the person most of the matches within the grouping threshold
// hold (face itself left out), the nearest first on a tie; 0 for none.
func vote(ms []library.Match, face int64) int64 {
	votes := map[int64]int{}
	best := int64(0)
	for _, m := range ms {
		if m.FaceID == face || m.PersonID == 0 || m.Distance > library.GroupThreshold {
			continue
		}
		votes[m.PersonID]++
		if best == 0 || votes[m.PersonID] > votes[best] {
			best = m.PersonID
		}
	}
	return best
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
	out := make([]Face, len(found))
	err := r.lib.withGallery(ctx, func(g *library.Gallery) error {
		return r.name(ctx, g, found, out)
	})
	return out, err
}

func (r libraryRecognizer) name(ctx context.Context, g *library.Gallery, found []faces.Face, out []Face) error {
	for i, f := range found {
		out[i] = Face{Box: roundBox(f.Box), Name: UnknownName, Unknown: true, Top: []Candidate{}}
		if len(f.Descriptor) != library.DescriptorSize {
			continue
		}
		ms := g.Like(f.Descriptor, namedNeighbours)
		if err := r.lib.Store.Resolve(ctx, ms); err != nil {
			return err
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
	return nil
}

func roundBox(b faces.Box) [4]int { return roundFloatBox([4]float64{b.X, b.Y, b.W, b.H}) }
