package serve

import (
	_ "embed"
	"net/http"
	"strings"
)

// Library API paths (the others are in handlers.go).
const (
	pathPeople    = "/api/v1/people"
	pathPerson    = "/api/v1/people/"
	pathSearch    = "/api/v1/search"
	pathLibPhotos = "/api/v1/library/photos/"
	pathFaces     = "/api/v1/faces/"
	pathOpenAPI   = "/api/v1/openapi.json"
)

// route is one API endpoint: its mux pattern and the methods it answers
// (GET implies HEAD). The table is the one list both the mux and the
// OpenAPI test read, so a route cannot be served without being documented.
type route struct {
	pattern string
	methods []string
	handler http.HandlerFunc
}

func (s *Server) apiRoutes() []route {
	get, post := []string{http.MethodGet}, []string{http.MethodPost}
	return []route{
		{pathRecognize, post, s.handleRecognize},
		{pathModel, get, s.handleModel},
		{pathGallery + "{name}", get, s.handleGallery},
		{pathHealth, get, s.handleHealth},
		{pathOpenAPI, get, s.handleOpenAPI},
		{pathPeople, get, s.handlePeople},
		{pathPerson + "{id}/photos", get, s.byID("person", s.personPhotos)},
		{pathPerson + "{id}/name", post, s.byID("person", s.namePerson)},
		{pathPerson + "{id}/merge", post, s.byID("person", s.merge)},
		{pathSearch, []string{http.MethodGet, http.MethodPost}, s.handleSearch},
		{strings.TrimSuffix(pathLibPhotos, "/"), post, s.handleLibraryUpload},
		{pathLibPhotos + "{id}", get, s.byID("photo", s.libPhoto)},
		{pathLibPhotos + "{id}/image", get, s.byID("photo", s.photoImage)},
		{pathFaces + "{id}/thumb", get, s.byID("face", s.faceThumb)},
		{pathFaces + "{id}/name", post, s.byID("face", s.nameFace)},
		{pathFaces + "{id}/forget", post, s.byID("face", s.forgetFace)},
	}
}

// handle registers rt on mux behind its method check.
func handle(mux *http.ServeMux, rt route) {
	methods := rt.methods
	for _, m := range rt.methods {
		if m == http.MethodGet {
			methods = append(methods[:len(methods):len(methods)], http.MethodHead)
		}
	}
	h := rt.handler
	mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
		if allow(w, r, methods...) {
			h(w, r)
		}
	})
}

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPIDoc)
}
