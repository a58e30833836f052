// Package defaultmodel is the built-in model: a face run for the
// tutorial's 17 stars, embedded in the binary, so that starid names them
// with no training and no photos of ours. It holds the head, the
// centroids, the calibrated unknown rule, the class names and the face
// pipeline version, and per class a summary of the training descriptors
// (count, mean, spread) that enroll refits the head with: no photo and no
// descriptor of a photo.
//
// The files are made by `make default-model` (Build, on the run's training
// split of the tutorial's photos) and committed. Enrolling into the default
// model writes a copy of it to the user's data folder (UserDir), which
// every command without a run then uses instead of the embedded one.
package defaultmodel

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/identify"
	"starid/internal/runs"
)

//go:embed model.json best.safetensors
var files embed.FS

// EnvDir names the environment variable that moves the user's copy.
const EnvDir = "STARID_DEFAULT_RUN"

// BuiltIn is how messages name the embedded model.
const BuiltIn = "the built-in model"

// OpenEmbedded reads the model embedded in the binary, ignoring any user
// copy.
func OpenEmbedded() (*identify.FaceRun, error) {
	return identify.OpenFaceRunFS(files, BuiltIn)
}

// UserDir is where the user's copy of the default model lives:
// $STARID_DEFAULT_RUN, else $XDG_DATA_HOME/starid/default-run, else
// ~/.local/share/starid/default-run. (Go's os package has UserCacheDir and
// UserConfigDir but no data folder; the XDG rule is these few lines.)
func UserDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	base := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(base) { // the XDG spec says to ignore a relative one
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no home folder for the copy of the default model (%v); set %s", err, EnvDir)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "starid", "default-run"), nil
}

// Source says which default model is in use.
type Source struct {
	// Dir is the user's copy: in use when UserCopy, otherwise where an
	// enroll would make it ("" when there is no place for it).
	Dir      string
	UserCopy bool
}

func (s Source) String() string {
	if s.UserCopy {
		return "your copy of the built-in model in " + s.Dir
	}
	return BuiltIn
}

// Which says which default model Open would open.
func Which() Source {
	dir, err := UserDir()
	return Source{Dir: dir, UserCopy: err == nil && runs.IsRun(dir)}
}

// Open opens the default model: the user's copy when there is one, else
// the embedded model.
func Open() (*identify.FaceRun, Source, error) {
	src := Which()
	if !src.UserCopy {
		run, err := OpenEmbedded()
		return run, src, err
	}
	run, err := identify.OpenFaceRun(src.Dir)
	if err != nil {
		return nil, src, StaleCopy(src, err)
	}
	return run, src, nil
}

// StaleCopy adds to an error about the user's copy how to go back to the
// built-in model.
func StaleCopy(src Source, err error) error {
	if err == nil || !src.UserCopy {
		return err
	}
	return fmt.Errorf("%w\n(this is your copy of the built-in model, made by enroll; remove %s to use the built-in model again, or set %s)",
		err, src.Dir, EnvDir)
}

// Edit applies change (an enroll, a rename, a removal) to the user's copy
// of the built-in model, making the copy first when there is none: the
// built-in model is copied into a temporary folder, changed there and
// renamed into place, so a failed change leaves no copy behind. When
// another process made the copy meanwhile, change is applied to that one.
func Edit(change func(dir string) error) (Source, error) {
	dir, err := UserDir()
	if err != nil {
		return Source{}, err
	}
	src := Source{Dir: dir, UserCopy: true}
	if runs.IsRun(dir) {
		return src, StaleCopy(src, change(dir))
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return src, fmt.Errorf("cannot make the folder for your copy of the built-in model: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".default-run-*")
	if err != nil {
		return src, err
	}
	defer os.RemoveAll(tmp) // gone after the rename; otherwise a failed first copy
	run, err := OpenEmbedded()
	if err != nil {
		return src, err
	}
	if err := run.WriteTo(tmp); err != nil {
		return src, err
	}
	if err := change(tmp); err != nil {
		// The temporary folder means nothing to the user, who asked
		// about the built-in model.
		return src, pathRenamed{err, tmp, "the built-in model"}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if !runs.IsRun(dir) {
			return src, fmt.Errorf("cannot put your copy of the built-in model in place: %w", err)
		}
		// Another process made the copy first: change that one (an
		// enroll finds its photos' descriptors in the cache by now).
		return src, StaleCopy(src, change(dir))
	}
	return src, nil
}

// People lists who the face run in run knows (identify.People), or when
// run is "" the default model in use: the user's copy when there is one,
// else the built-in model, telling note which.
func People(run string, note func(string)) ([]identify.Person, error) {
	if run != "" {
		return identify.People(run)
	}
	src := Which()
	note("no run given: " + src.String())
	if src.UserCopy {
		p, err := identify.People(src.Dir)
		return p, StaleCopy(src, err)
	}
	fr, err := OpenEmbedded()
	if err != nil {
		return nil, err
	}
	return fr.People(), nil
}

// IsRunArg tells enroll's optional RUN from its NAME: a run folder, or
// what can only be a path (a folder, or a name with a slash, which names
// never have), so that a mistyped run is reported as one rather than
// enrolled as a person.
func IsRunArg(arg string) bool {
	if runs.IsRun(arg) || strings.ContainsAny(arg, `/\`) {
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.IsDir()
}

// pathRenamed is err with every mention of a path replaced by what the
// user knows it as; errors.Is and As still see err.
type pathRenamed struct {
	err      error
	path, as string
}

func (e pathRenamed) Error() string { return strings.ReplaceAll(e.err.Error(), e.path, e.as) }
func (e pathRenamed) Unwrap() error { return e.err }
