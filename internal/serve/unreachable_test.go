package serve

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"

	"starid/internal/library/pgtest"
)

// TestLibraryUnreachable: when the library's PostgreSQL server goes away
// under a running server (stopped, restarting, the network), the API
// answers 503 with Retry-After, saying the library cannot be reached,
// rather than a 500 "library error" a client takes for a bug and does
// not retry.
func TestLibraryUnreachable(t *testing.T) {
	ts, st := newLibTest(t, pgtest.Location(t), nil)
	a := addPhoto(t, ts.URL, 300)
	gone, err := sql.Open("pgx", "postgres:///gone?host="+t.TempDir()+"&user=postgres&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	old := st.DB
	st.DB = gone
	t.Cleanup(func() { st.DB = old; gone.Close() })
	for _, r := range []response{
		get(t, ts.URL+pathPeople),
		get(t, ts.URL+pathPerson+a.Faces[0].PersonID+"/photos"),
		postJSON(t, ts.URL+pathFaces+a.Faces[0].ID+"/name", `{"name":"Tom Hanks"}`),
		upload(t, ts.URL, strings.TrimSuffix(pathLibPhotos, "/"), pngBytes(t, 320, 80)),
	} {
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "cannot be reached") {
			t.Errorf("library unreachable: %d (Retry-After %q) %s", r.status, r.header.Get("Retry-After"), r.body)
		}
	}
}
