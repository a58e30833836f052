package faces

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// LoadInstalled loads the pipeline from the models `starid models fetch`
// installed (ModelDir); its error says how to install them.
func LoadInstalled() (*Pipeline, error) {
	dir, err := ModelDir()
	if err != nil {
		return nil, err
	}
	return LoadPipeline(dir)
}

// DirHint is the note for models fetched into dir when the other commands
// will not look there, or "" when they will.
func DirHint(dir string) string {
	def, err := DefaultDir()
	if err == nil && sameFolder(def, dir) {
		return ""
	}
	return fmt.Sprintf("note: the other commands look for the models in $%s, else the user cache folder; "+
		"set %s=%s for them to use this folder", EnvModels, EnvModels, dir)
}

// sameFolder compares two folder names after making them absolute and clean.
func sameFolder(a, b string) bool {
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == bb
}

// WriteText says what a fetch did; took is how long it took.
func (r *FetchResult) WriteText(w io.Writer, took time.Duration) error {
	var err error
	if len(r.Installed) == 0 {
		_, err = fmt.Fprintf(w, "face models: all %d files already in %s\n", len(r.Present), r.Dir)
	} else {
		_, err = fmt.Fprintf(w, "face models: installed %d files (%d already present) from %s into %s in %.1fs\n",
			len(r.Installed), len(r.Present), strings.Join(r.Packages, " and "), r.Dir, took.Seconds())
	}
	return err
}

// FetchAndReport is `starid models fetch`: Fetch into dir (DefaultDir when
// empty), what it did on stdout, and DirHint's note on stderr; candidates
// adds the candidate descriptor nets (see Fetch).
func FetchAndReport(ctx context.Context, dir string, candidates bool, stdout, stderr io.Writer) error {
	if dir == "" {
		var err error
		if dir, err = DefaultDir(); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := Fetch(ctx, dir, candidates)
	if err != nil {
		return err
	}
	if err := res.WriteText(stdout, time.Since(start)); err != nil {
		return err
	}
	if hint := DirHint(res.Dir); hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	return nil
}
