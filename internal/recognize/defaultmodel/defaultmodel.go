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
	"context"
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

// Enroll adds photos of name to the user's copy of the default model
// (identify.Enroll), making the copy from the embedded model first when
// there is none. A first copy is made and enrolled into in a temporary
// folder beside its place and then renamed into it, so a failed enroll
// leaves no copy; if another enroll made the copy meanwhile, this one is
// enrolled into that.
func Enroll(ctx context.Context, name string, photos []string, d identify.Describer, opt identify.EnrollOptions) (*identify.EnrollResult, Source, error) {
	dir, err := UserDir()
	if err != nil {
		return nil, Source{}, err
	}
	src := Source{Dir: dir, UserCopy: true}
	if runs.IsRun(dir) {
		res, err := identify.Enroll(ctx, dir, name, photos, d, opt)
		return res, src, StaleCopy(src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, src, fmt.Errorf("cannot make the folder for your copy of the built-in model: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".default-run-*")
	if err != nil {
		return nil, src, err
	}
	defer os.RemoveAll(tmp) // gone after the rename; otherwise a failed first copy
	run, err := OpenEmbedded()
	if err != nil {
		return nil, src, err
	}
	if err := run.WriteTo(tmp); err != nil {
		return nil, src, err
	}
	res, err := identify.Enroll(ctx, tmp, name, photos, d, opt)
	if err != nil {
		return nil, src, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if !runs.IsRun(dir) {
			return nil, src, fmt.Errorf("cannot put your copy of the built-in model in place: %w", err)
		}
		// Another enroll made the copy first: enroll into it (the
		// photos' descriptors are in the cache by now).
		res, err = identify.Enroll(ctx, dir, name, photos, d, opt)
		return res, src, StaleCopy(src, err)
	}
	return res, src, nil
}

// EnrollInto is `starid enroll [RUN] NAME PHOTO...`: it enrolls into the
// run folder run, or, when run is "", into the user's copy of the default
// model (Enroll). It returns the folder enrolled into.
func EnrollInto(ctx context.Context, run, name string, photos []string, d identify.Describer, opt identify.EnrollOptions) (*identify.EnrollResult, string, error) {
	if run != "" {
		res, err := identify.Enroll(ctx, run, name, photos, d, opt)
		return res, run, err
	}
	res, src, err := Enroll(ctx, name, photos, d, opt)
	return res, src.Dir, err
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
