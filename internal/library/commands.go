package library

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"starid/internal/faces"
)

// This file holds one function per command of the CLI (index, people,
// search, verify), so that the command line, the server and tests share
// them; cmd/starid only parses flags and prints.

// IndexOptions is what `starid index` takes.
type IndexOptions struct {
	Roots     []string
	Describer Describer // the face pipeline's, usually (PipelineDescriber)
	// Pipeline names the Describer's version (see Indexer.Pipeline).
	Pipeline string
	Workers  int // 0: one per core
	// Progress, when not nil, is called after each photo described, one
	// call at a time.
	Progress func(done, total int)
}

// IndexResult is what an index run did, for --json: this run's numbers,
// not the library's history.
type IndexResult struct {
	Library   string      `json:"library"`
	Seen      int         `json:"photos"`
	Added     int         `json:"added"`
	Changed   int         `json:"changed"`
	Unchanged int         `json:"unchanged"` // already indexed as they are: not read
	Moved     int         `json:"moved"`
	Removed   int         `json:"removed"`
	Described int         `json:"described"` // described by this run, faces stored
	Faces     int         `json:"faces"`
	People    int         `json:"people"`     // people with faces after grouping
	NewPeople int         `json:"new_people"` // made by this run's grouping
	Failed    []BadPhoto  `json:"failed"`     // what this run could not take, by path
	Grouping  GroupReport `json:"-"`
}

// IndexFolders indexes the roots into the library, then groups the new
// faces: they join the people they are close to (named ones included, so
// a name given once names later photos) or form new people.
func IndexFolders(ctx context.Context, s *Store, opt IndexOptions) (*IndexResult, error) {
	if len(opt.Roots) == 0 {
		return nil, errors.New("index: no folder given")
	}
	ix := &Indexer{Store: s, Describer: opt.Describer, Pipeline: opt.Pipeline, Workers: opt.Workers}
	if opt.Progress != nil {
		ix.Progress = func(done, total int, _ string) { opt.Progress(done, total) }
	}
	rep, err := ix.Index(ctx, opt.Roots)
	if errors.Is(err, context.Canceled) {
		return nil, interruptedError{err}
	}
	if err != nil {
		return nil, err
	}
	res := &IndexResult{Library: s.Source, Seen: rep.Seen, Added: rep.Added, Changed: rep.Changed,
		Unchanged: rep.Unchanged, Moved: rep.Moved, Removed: rep.Removed, Described: rep.Described, Faces: rep.Faces,
		Failed: rep.Failed}
	if res.Failed == nil {
		res.Failed = []BadPhoto{}
	}
	if res.Grouping, err = s.Group(ctx, GroupOptions{}); err != nil {
		return nil, err
	}
	res.NewPeople = res.Grouping.NewPeople
	ps, err := s.People(ctx)
	if err != nil {
		return nil, err
	}
	res.People = len(ps)
	return res, nil
}

// PeopleList is `starid people --json`: the contract scripts rely on.
type PeopleList struct {
	People []PeopleListPerson `json:"people"`
}

// PeopleListPerson is one person of PeopleList; ids are strings so that
// any store's keys fit.
type PeopleListPerson struct {
	ID    string           `json:"id"`
	Name  string           `json:"name"`
	Faces []PeopleListFace `json:"faces"`
}

// PeopleListFace is one face of a person: the photo's path and the box.
type PeopleListFace struct {
	ID    string     `json:"id"`
	Image string     `json:"image"`
	Box   [4]float64 `json:"box"`
}

// ListPeople groups any face not yet in a person (an index run stopped
// before its grouping leaves some), then lists the people.
func ListPeople(ctx context.Context, s *Store) (People, error) {
	if _, err := s.Group(ctx, GroupOptions{}); err != nil {
		return nil, err
	}
	return s.People(ctx)
}

// ToPeopleList converts people for the JSON output.
func ToPeopleList(ps []Person) PeopleList {
	out := PeopleList{People: make([]PeopleListPerson, len(ps))}
	for i, p := range ps {
		lp := PeopleListPerson{ID: strconv.FormatInt(p.ID, 10), Name: p.Name, Faces: make([]PeopleListFace, len(p.Faces))}
		for j, f := range p.Faces {
			lp.Faces[j] = PeopleListFace{ID: strconv.FormatInt(f.ID, 10), Image: f.Photo, Box: roundBox(f.Box)}
		}
		out.People[i] = lp
	}
	return out
}

// ParseID reads a person or face id as the CLI and API show them.
func ParseID(what, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%s id %q: want a positive whole number (see `starid people`)", what, s)
	}
	return id, nil
}

// SearchOptions is what `starid search` takes: a person's name, or a
// photo whose main face is searched for (Describer describes it).
type SearchOptions struct {
	Person    string
	Like      string
	Describer Describer
	Top       int // photos to return; 0: 20
}

// PhotoMatch is one photo a search found, nearest first: its nearest
// face to the query.
type PhotoMatch struct {
	Photo    string     `json:"image"`
	FaceID   string     `json:"face"`
	Box      [4]float64 `json:"box"`
	Distance float64    `json:"distance"`
	PersonID string     `json:"person_id"`
	Person   string     `json:"person"`
}

// SearchPhotos ranks the library's photos by their nearest face's
// distance to the query (exact k-NN over every descriptor), each photo
// once.
func SearchPhotos(ctx context.Context, s *Store, opt SearchOptions) (Matches, error) {
	if (opt.Person == "") == (opt.Like == "") {
		return nil, errors.New("search: give a person's name or a photo, not both")
	}
	if opt.Top <= 0 {
		opt.Top = 20
	}
	g, err := s.LoadGallery(ctx)
	if err != nil {
		return nil, err
	}
	// Photos with several faces near the query take several of the k
	// nearest faces: ask for more, then keep each photo's nearest.
	// Never more than the gallery holds (a huge --top would overflow).
	k := len(g.FaceIDs)
	if opt.Top < (k-16)/4 {
		k = 4*opt.Top + 16
	}
	var ms []Match
	if opt.Person != "" {
		ms, err = s.SearchPerson(ctx, g, opt.Person, k)
	} else {
		var q []float32
		var f Face
		if f, _, err = mainFace(ctx, opt.Describer, opt.Like); err == nil {
			q = f.Descriptor
			ms = g.Like(q, k)
		}
	}
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var keep []Match
	for _, m := range ms {
		if !seen[m.PhotoID] && len(keep) < opt.Top {
			seen[m.PhotoID] = true
			keep = append(keep, m)
		}
	}
	if err := s.Resolve(ctx, keep); err != nil {
		return nil, err
	}
	out := make(Matches, len(keep))
	for i, m := range keep {
		out[i] = PhotoMatch{Photo: m.Photo, FaceID: strconv.FormatInt(m.FaceID, 10), Box: roundBox(m.Box),
			Distance: math.Round(m.Distance*1e4) / 1e4, Person: m.Person}
		if m.PersonID != 0 {
			out[i].PersonID = strconv.FormatInt(m.PersonID, 10)
		}
	}
	return out, nil
}

// mainFace describes a photo and returns its main face (see MainFace)
// and how many faces it has.
func mainFace(ctx context.Context, d Describer, path string) (Face, int, error) {
	if d == nil {
		return Face{}, 0, errors.New("library: no Describer for a photo")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Face{}, 0, err
	}
	found, err := d.Describe(ctx, path, b)
	if err != nil {
		return Face{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	i := MainFace(found)
	if i < 0 {
		return Face{}, 0, fmt.Errorf("%s: no face found", path)
	}
	if err := found[i].check(); err != nil {
		return Face{}, 0, fmt.Errorf("%s: %w", path, err)
	}
	return found[i], len(found), nil
}

// VerifyPhotos says whether the main faces of two photos are one person,
// against threshold (0: the pair's own, DefaultVerifyRule's for their
// faces' conditions).
func VerifyPhotos(ctx context.Context, d Describer, a, b string, threshold float64) (Verdict, error) {
	fa, na, err := mainFace(ctx, d, a)
	if err != nil {
		return Verdict{}, err
	}
	fb, nb, err := mainFace(ctx, d, b)
	if err != nil {
		return Verdict{}, err
	}
	if threshold <= 0 {
		threshold = DefaultVerifyRule.Threshold(ConditionOf(fa), ConditionOf(fb))
	}
	v, err := Verify(fa.Descriptor, fb.Descriptor, threshold)
	v.Distance = math.Round(v.Distance*1e4) / 1e4
	v.Threshold = math.Round(v.Threshold*1e4) / 1e4
	v.Faces = [2]int{na, nb}
	return v, err
}

// MainFace is the index of the face a photo is about, -1 for none: the
// pipeline's rule (faces.MainFace), which measured best on celebrity17.
func MainFace(fs []Face) int {
	boxes := make([]faces.Face, len(fs))
	for i, f := range fs {
		boxes[i].Box = faces.Box{X: f.Box[0], Y: f.Box[1], W: f.Box[2], H: f.Box[3]}
		boxes[i].Score = f.Score
	}
	return faces.MainFace(boxes)
}

// roundBox keeps a box's pixels to two decimals: more is noise in JSON.
func roundBox(b [4]float64) [4]float64 {
	for i := range b {
		b[i] = math.Round(b[i]*100) / 100
	}
	return b
}
