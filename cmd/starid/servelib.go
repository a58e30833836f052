package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"starid/internal/faces"
	"starid/internal/library"
	"starid/internal/serve"
)

// openServeLibrary opens the library behind serve --db (a SQLite file or
// a postgres:// URL) with the face pipeline that describes uploads, and
// the folder that keeps them: uploads, or by default the library's own
// (library.DefaultUploads). Faces are found with the detector d, and the
// uploads' descriptors recorded as made by it. The caller closes the store.
func openServeLibrary(ctx context.Context, db, uploads string, d faces.DetectorChoice, stderr io.Writer) (*serve.Library, error) {
	if uploads == "" {
		var err error
		if uploads, err = library.DefaultUploads(db); err != nil {
			return nil, usagef("--uploads: %v", err)
		}
	}
	if abs, err := filepath.Abs(uploads); err == nil {
		uploads = abs
	}
	finder, err := openFaceFinder(d)
	if err != nil {
		return nil, fmt.Errorf("serve --db: the library needs the face models: %w", err)
	}
	st, err := library.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	// A folder that cannot be made fails here, not at the first upload.
	if err := os.MkdirAll(uploads, 0o755); err != nil {
		st.Close()
		return nil, fmt.Errorf("--uploads %s: %w", uploads, err)
	}
	fmt.Fprintf(stderr, "starid serve: library %s, uploads kept in %s\n", st.Source, uploads)
	return &serve.Library{Store: st, Finder: finder, Pipeline: d.Version(), Uploads: uploads}, nil
}
