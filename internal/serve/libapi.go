package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"starid/internal/library"
)

// The library's JSON shapes. Ids are strings, as `starid people --json`
// writes them, so a client never meets a number too large for JavaScript.

// apiFace is a stored face.
type apiFace struct {
	ID       string `json:"id"`
	PhotoID  string `json:"photo_id"`
	Box      [4]int `json:"box"`
	PersonID string `json:"person_id"` // "" without a person
	Person   string `json:"person"`    // "" when the person is unnamed
	Thumb    string `json:"thumb"`     // URL of the face's thumbnail
}

type apiPerson struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	FaceCount int       `json:"face_count"`
	Faces     []apiFace `json:"faces"`
}

type apiPhoto struct {
	ID    string    `json:"id"`
	Image string    `json:"image"` // URL of the photo itself
	Faces []apiFace `json:"faces"`
}

type apiMatch struct {
	apiFace
	Image    string  `json:"image"`
	Distance float64 `json:"distance"`
}

func idString(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func faceThumbURL(id int64) string { return pathFaces + idString(id) + "/thumb" }

func photoImageURL(id int64) string { return pathLibPhotos + idString(id) + "/image" }

func toAPIFace(f library.LibFace) apiFace {
	return apiFace{ID: idString(f.ID), PhotoID: idString(f.PhotoID), Box: roundFloatBox(f.Box),
		PersonID: idString(f.PersonID), Person: f.Person, Thumb: faceThumbURL(f.ID)}
}

func toAPIPhoto(p library.PhotoFaces) apiPhoto {
	out := apiPhoto{ID: idString(p.ID), Image: photoImageURL(p.ID), Faces: make([]apiFace, 0, len(p.Faces))}
	for _, f := range p.Faces {
		out.Faces = append(out.Faces, toAPIFace(f))
	}
	return out
}

// roundFloatBox is a box in whole pixels, as the API gives boxes.
func roundFloatBox(b [4]float64) [4]int {
	return [4]int{int(math.Round(b[0])), int(math.Round(b[1])), int(math.Round(b[2])), int(math.Round(b[3]))}
}

// hasLibrary answers 404 when the server was started without a library,
// the one answer every library route gives then.
func (s *Server) hasLibrary(w http.ResponseWriter) bool {
	if s.lib == nil {
		writeError(w, http.StatusNotFound, "this server has no photo library; start it with --db DB")
		return false
	}
	return true
}

// libReady answers 404 when the server has no library, and otherwise gives
// a context bounded by the request timeout for the database work.
func (s *Server) libReady(w http.ResponseWriter, r *http.Request) (context.Context, context.CancelFunc, bool) {
	if !s.hasLibrary(w) {
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	return ctx, cancel, true
}

// libError answers a library failure: a missing id is 404, a name that
// only looks like a person's 409, a timeout or an unreachable database
// 503, anything else 500 (logged, since it is the server's problem).
func (s *Server) libError(w http.ResponseWriter, r *http.Request, err error) {
	err = library.Explain(err)
	switch {
	case errors.Is(err, library.ErrUnreachable):
		s.log.Warn("library unreachable", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(unreachableRetry))
		writeError(w, http.StatusServiceUnavailable, s.lib.clientMessage(err))
	case errors.Is(err, library.ErrNotFound):
		writeError(w, http.StatusNotFound, s.lib.clientMessage(err))
	case errors.As(err, new(*library.LookAlikeError)):
		writeError(w, http.StatusConflict, s.lib.clientMessage(err))
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the library did not answer within %v", s.opts.RequestTimeout))
	case r.Context().Err() != nil:
		w.WriteHeader(statusClientClosed)
	default:
		s.log.Error("library failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "library error: "+s.lib.clientMessage(err))
	}
}

// byID is a library handler for a path with an {id}: it answers 404
// without a library or for an id that cannot be one, and gives fn a context
// bounded by the request timeout.
func (s *Server) byID(what string, fn func(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel, ok := s.libReady(w, r)
		if !ok {
			return
		}
		defer cancel()
		if id, ok := pathID(w, r, what); ok {
			fn(ctx, w, r, id)
		}
	}
}

// pathID reads a positive id from the path, or answers 404.
func pathID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no %s %q: ids are positive whole numbers", what, v))
		return 0, false
	}
	return id, true
}

// readJSON decodes a small JSON request body into v. Only
// application/json is taken: a cross-origin page cannot send it without a
// preflight, which the guard refuses for untrusted origins.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the request body as JSON with Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the JSON body is larger than %d bytes", maxJSONBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "malformed JSON body: more than one value")
		return false
	}
	return true
}

// checkName refuses a name a person cannot have (library.CheckName) or
// the name starid gives a face it cannot name.
func checkName(name string) (string, error) {
	name, err := library.CheckName(name)
	if err != nil {
		return "", err
	}
	if strings.EqualFold(name, UnknownName) {
		return "", fmt.Errorf("%q is what starid calls a face it cannot name; choose another name", name)
	}
	return name, nil
}

// peopleResponse is one page of GET /api/v1/people: people [offset,
// offset+limit) of total, and the URL of the next page when there is one.
type peopleResponse struct {
	People []apiPerson `json:"people"`
	paging
}

func (s *Server) handlePeople(w http.ResponseWriter, r *http.Request) {
	ctx, cancel, ok := s.libReady(w, r)
	if !ok {
		return
	}
	defer cancel()
	shown, ok := queryInt(w, r, "faces", defaultFacesShown, 0, maxFacesShown)
	if !ok {
		return
	}
	pg, ok := readPaging(w, r, defaultPeoplePage, maxPeoplePage)
	if !ok {
		return
	}
	page, err := s.lib.Store.PeoplePage(ctx, pg.Offset, pg.Limit, shown)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	out := peopleResponse{People: make([]apiPerson, 0, len(page.People))}
	for _, p := range page.People {
		ap := apiPerson{ID: idString(p.ID), Name: p.Name, FaceCount: p.FaceCount, Faces: make([]apiFace, 0, len(p.Faces))}
		for _, f := range p.Faces {
			ap.Faces = append(ap.Faces, toAPIFace(f))
		}
		out.People = append(out.People, ap)
	}
	out.paging = pg.done(w, pathPeople, len(page.People), page.Total, fmt.Sprintf("&faces=%d", shown))
	writeJSON(w, http.StatusOK, out)
}

// paging is where a page sits in a list: offset and limit as asked, the
// list's total, and the next page's URL when there is one (also sent as
// a Link header).
type paging struct {
	Total  int    `json:"total"`
	Offset int    `json:"offset"`
	Limit  int    `json:"limit"`
	Next   string `json:"next,omitempty"`
}

// readPaging reads ?limit= (1 to max, default def) and ?offset=, or
// answers 400.
func readPaging(w http.ResponseWriter, r *http.Request, def, max int) (paging, bool) {
	limit, ok := queryInt(w, r, "limit", def, 1, max)
	if !ok {
		return paging{}, false
	}
	offset, ok := queryInt(w, r, "offset", 0, 0, maxOffset)
	return paging{Offset: offset, Limit: limit}, ok
}

// done completes the paging of a page of got items of total at path
// (extra: more query parameters for the next page's URL).
func (p paging) done(w http.ResponseWriter, path string, got, total int, extra string) paging {
	p.Total = total
	if next := p.Offset + got; got == p.Limit && next < total {
		p.Next = fmt.Sprintf("%s?limit=%d&offset=%d%s", path, p.Limit, next, extra)
		w.Header().Set("Link", "<"+p.Next+`>; rel="next"`)
	}
	return p
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(w http.ResponseWriter, r *http.Request, key string, def, lo, hi int) (int, bool) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s must be a whole number from %d to %d, not %q", key, lo, hi, v))
		return 0, false
	}
	return n, true
}

func (s *Server) personPhotos(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	pg, ok := readPaging(w, r, defaultPhotosPage, maxPhotosPage)
	if !ok {
		return
	}
	page, err := s.lib.Store.PersonPhotosPage(ctx, id, pg.Offset, pg.Limit)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	out := personPhotosResponse{PersonID: idString(id), Photos: make([]apiPhoto, 0, len(page.Photos))}
	for _, p := range page.Photos {
		out.Photos = append(out.Photos, toAPIPhoto(p))
	}
	out.paging = pg.done(w, pathPerson+idString(id)+"/photos", len(page.Photos), page.Total, "")
	writeJSON(w, http.StatusOK, out)
}

// personPhotosResponse is a page of GET /api/v1/people/{id}/photos.
type personPhotosResponse struct {
	PersonID string     `json:"person_id"`
	Photos   []apiPhoto `json:"photos"`
	paging
}

type nameRequest struct {
	Name string `json:"name"`
}

// readName reads a naming request's body and checks the name; on a
// problem it has already answered 400 and says false.
func readName(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req nameRequest
	if !readJSON(w, r, &req) {
		return "", false
	}
	name, err := checkName(req.Name)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return name, true
}

func (s *Server) namePerson(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	name, ok := readName(w, r)
	if !ok {
		return
	}
	if err := s.lib.Store.Name(ctx, id, name); err != nil {
		s.libError(w, r, err)
		return
	}
	// Naming after a name another person has merges the two into that
	// one: answer with the person who holds the name now.
	holder, err := s.lib.Store.PersonByName(ctx, name)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": idString(holder), "name": name})
}

type mergeRequest struct {
	From string `json:"from"`
}

func (s *Server) merge(ctx context.Context, w http.ResponseWriter, r *http.Request, into int64) {
	var req mergeRequest
	if !readJSON(w, r, &req) {
		return
	}
	from, err := strconv.ParseInt(req.From, 10, 64)
	if err != nil || from <= 0 || from == into {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("\"from\" must be the id of another person, not %q", req.From))
		return
	}
	if err := s.lib.Store.Merge(ctx, into, from); err != nil {
		s.libError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": idString(into), "merged": idString(from)})
}

func (s *Server) nameFace(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	name, ok := readName(w, r)
	if !ok {
		return
	}
	person, err := s.lib.Store.NameFace(ctx, id, name)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": idString(id), "person_id": idString(person), "person": name})
}

func (s *Server) forgetFace(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	if err := s.lib.Store.Forget(ctx, id); err != nil {
		s.libError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": idString(id), "forgotten": true})
}

func (s *Server) libPhoto(ctx context.Context, w http.ResponseWriter, r *http.Request, id int64) {
	p, err := s.lib.Store.Photo(ctx, id)
	if err != nil {
		s.libError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIPhoto(p))
}
