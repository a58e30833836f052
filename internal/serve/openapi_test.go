package serve

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIMatchesRoutes: the document the server serves is valid
// OpenAPI 3, lists every route the mux serves with its methods, and
// nothing else; and the mux really answers each documented path (a method
// it lacks gets 405 naming exactly the documented ones).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, ts, _ := newTest(t, &fakeRecognizer{info: testInfo}, Options{})
	r := get(t, ts.URL+pathOpenAPI)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %q", pathOpenAPI, r.status, r.header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}

	documented := map[string][]string{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[path] = append(documented[path], method)
		}
		slices.Sort(documented[path])
	}
	served := map[string][]string{}
	for _, rt := range s.apiRoutes() {
		m := slices.Clone(rt.methods)
		slices.Sort(m)
		served[rt.pattern] = m
	}
	for p, m := range served {
		if d, ok := documented[p]; !ok || !slices.Equal(d, m) {
			t.Errorf("route %s %v: the document has %v", p, m, d)
		}
	}
	for p, m := range documented {
		if _, ok := served[p]; !ok {
			t.Errorf("the document has %s %v, which the server does not serve", p, m)
		}
	}

	// Ask the mux itself: every documented path answers DELETE (which no
	// route takes) with 405 and the documented methods in Allow.
	param := regexp.MustCompile(`\{[^}]+\}`)
	for p, m := range documented {
		url := ts.URL + param.ReplaceAllString(p, "1")
		req, _ := http.NewRequest(http.MethodDelete, url, nil)
		res := do(t, req)
		want := slices.Clone(m)
		if slices.Contains(want, http.MethodGet) {
			want = append(want, http.MethodHead)
		}
		allow := strings.Split(res.header.Get("Allow"), ", ")
		slices.Sort(allow)
		slices.Sort(want)
		if res.status != http.StatusMethodNotAllowed || !slices.Equal(allow, want) {
			t.Errorf("DELETE %s: %d, Allow %v; want 405 with %v", p, res.status, allow, want)
		}
	}
	if res := get(t, ts.URL+"/api/v1/undocumented"); res.status != 404 {
		t.Errorf("a path outside the document: %d", res.status)
	}
}
