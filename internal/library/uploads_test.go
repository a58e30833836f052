package library

import (
	"path/filepath"
	"testing"
)

func TestDefaultUploads(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	for loc, want := range map[string]string{
		"/tmp/x.db":          "/tmp/x.uploads",
		"/tmp/y.db":          "/tmp/y.uploads",
		"/tmp/photos.sqlite": "/tmp/photos.uploads",
		"lib":                "lib.uploads",
		"/srv/.db":           "/srv/.db.uploads",
		"/srv/v1.2/lib":      "/srv/v1.2/lib.uploads",
		"postgres://u:secret@db.example:5433/photos?sslmode=disable": filepath.Join("/data/starid/uploads", "db.example_5433_photos"),
		"postgresql://u@db.example/faces":                            filepath.Join("/data/starid/uploads", "db.example_default_faces"),
		"postgres:///lib?host=/tmp/pg%20sock":                        filepath.Join("/data/starid/uploads", "tmp-pg-sock_default_lib"),
		"postgres://ann@/?host=/run/pg":                              filepath.Join("/data/starid/uploads", "run-pg_default_ann"),
		"postgres://h/../../etc":                                     filepath.Join("/data/starid/uploads", "h_default_..-..-etc"),
	} {
		got, err := DefaultUploads(loc)
		if err != nil || got != want {
			t.Errorf("DefaultUploads(%q) = %q, %v; want %q", loc, got, err, want)
		}
	}
	if _, err := DefaultUploads(""); err == nil {
		t.Error("no location: no error")
	}
}
