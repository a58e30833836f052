package serve

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestResponsesMatchTheDocument checks real answers of a library server
// against the OpenAPI document's schemas, so the document describes what
// the server sends, not only which paths it has.
func TestResponsesMatchTheDocument(t *testing.T) {
	ts, _ := newLibTest(t, sqliteLocation(t), &namingRecognizer{fakeRecognizer{info: testInfo}})
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	a := addPhoto(t, ts.URL, 300)
	photo := pngBytes(t, 310, 50)
	for _, c := range []struct {
		method, path, ctype string
		body                []byte
	}{
		{http.MethodPost, pathRecognize, "image/png", photo},
		{http.MethodPost, strings.TrimSuffix(pathLibPhotos, "/"), "image/png", photo},
		{http.MethodGet, pathPeople, "", nil},
		{http.MethodGet, pathPeople + "?limit=1&offset=0&faces=0", "", nil},
		{http.MethodGet, pathPeople + "?limit=0", "", nil},
		{http.MethodGet, pathLibPhotos + a.ID, "", nil},
		{http.MethodGet, pathPerson + a.Faces[0].PersonID + "/photos", "", nil},
		{http.MethodGet, pathPerson + a.Faces[0].PersonID + "/photos?limit=1&offset=0", "", nil},
		{http.MethodGet, pathPerson + a.Faces[0].PersonID + "/photos?offset=-1", "", nil},
		{http.MethodGet, pathSearch + "?person=Tom%20Hanks", "", nil},
		{http.MethodPost, pathSearch, "image/png", photo},
		{http.MethodPost, pathFaces + a.Faces[1].ID + "/name", "application/json", []byte(`{"name":"Ann"}`)},
		{http.MethodPost, pathPerson + a.Faces[1].PersonID + "/name", "application/json", []byte(`{"name":"Bea"}`)},
		{http.MethodPost, pathFaces + "999/name", "application/json", []byte(`{"name":"Ann"}`)},
		{http.MethodGet, pathModel, "", nil},
		{http.MethodGet, pathHealth, "", nil},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, bytes.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		res := do(t, req)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in the document: %v", c.method, c.path, err)
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 res.status, Header: res.header, Body: io.NopCloser(bytes.NewReader(res.body)),
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s answered %d %s, which the document does not allow: %v", c.method, c.path, res.status, res.body, err)
		}
	}
}
