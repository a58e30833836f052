package serve

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"starid/internal/faces"
	"starid/internal/library"
)

// Search: GET finds the faces nearest a named person, POST the faces
// nearest the main face of an uploaded photo (through serveUpload's
// limits, as any upload). Both search exactly over every descriptor of the
// server's gallery snapshot, brought up to date when the library's faces
// changed.

const defaultTop = 50

type searchResponse struct {
	Person  string     `json:"person,omitempty"` // the person searched for
	Query   *[4]int    `json:"query_box,omitempty"`
	Matches []apiMatch `json:"matches"`
	MS      float64    `json:"ms,omitempty"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	if !s.hasLibrary(w) {
		return
	}
	top, ok := queryInt(w, r, "top", defaultTop, 1, maxTop)
	if !ok {
		return
	}
	if r.Method == http.MethodPost {
		s.serveUpload(w, r, func(ctx context.Context, upload []byte) recognized { return s.searchLike(ctx, upload, top) },
			func(res recognized, ms float64) any {
				a := res.search
				a.MS = ms
				return a
			})
		return
	}
	name := strings.TrimSpace(r.URL.Query().Get("person"))
	if name == "" {
		writeError(w, http.StatusBadRequest, `search needs ?person=NAME, or a photo POSTed to search like it`)
		return
	}
	ctx, cancel, _ := s.libReady(w, r)
	defer cancel()
	var ms []library.Match
	err := s.lib.withGallery(ctx, func(g *library.Gallery) (err error) {
		ms, err = s.lib.Store.SearchPerson(ctx, g, name, top)
		return err
	})
	if err == nil {
		var out []apiMatch
		if out, err = s.matches(ctx, ms); err == nil {
			writeJSON(w, http.StatusOK, searchResponse{Person: name, Matches: out})
			return
		}
	}
	if errors.Is(err, library.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no person named "+quote(name)+" in the library")
		return
	}
	s.libError(w, r, err)
}

func quote(s string) string { return "\u201c" + s + "\u201d" }

// matches resolves search hits into the API's shape.
func (s *Server) matches(ctx context.Context, ms []library.Match) ([]apiMatch, error) {
	if err := s.lib.Store.Resolve(ctx, ms); err != nil {
		return nil, err
	}
	out := make([]apiMatch, 0, len(ms))
	for _, m := range ms {
		out = append(out, apiMatch{
			apiFace: apiFace{ID: idString(m.FaceID), PhotoID: idString(m.PhotoID), Box: roundFloatBox(m.Box),
				PersonID: idString(m.PersonID), Person: m.Person, Thumb: faceThumbURL(m.FaceID)},
			Image: photoImageURL(m.PhotoID), Distance: m.Distance,
		})
	}
	return out, nil
}

// searchLike searches for the main face of the upload (see
// faces.MainFace); a photo without a face is a 422.
func (s *Server) searchLike(ctx context.Context, upload []byte, top int) recognized {
	img, res := s.decodeUpload(ctx, upload)
	if res.status != 0 {
		return res
	}
	if s.lib.Finder == nil {
		return s.failed(ctx, "search", errors.New("no face finder: the face models were not loaded"))
	}
	found, err := s.lib.Finder.Faces(img)
	if err != nil {
		return s.failed(ctx, "finding faces", err)
	}
	i := faces.MainFace(found)
	if i < 0 || len(found[i].Descriptor) != library.DescriptorSize {
		return recognized{status: http.StatusUnprocessableEntity, msg: "no face found in the photo to search for"}
	}
	var ms []library.Match
	err = s.lib.withGallery(ctx, func(g *library.Gallery) error {
		ms = g.Like(found[i].Descriptor, top)
		return nil
	})
	if err != nil {
		return s.failed(ctx, "library", err)
	}
	out, err := s.matches(ctx, ms)
	if err != nil {
		return s.failed(ctx, "library", err)
	}
	box := roundBox(found[i].Box)
	res.search = &searchResponse{Query: &box, Matches: out}
	return res
}
