package recognize

import (
	"fmt"

	"starid/internal/recognize/defaultmodel"
	"starid/internal/runs"
)

// OpenDefault returns the recognizer of the default model: the user's copy
// of the built-in model when enroll has made one (see
// defaultmodel.UserDir), else the 17 stars embedded in the binary. Its
// Info().Source says which.
func OpenDefault(opt Options) (Recognizer, error) {
	run, src, err := defaultmodel.Open()
	if err != nil {
		return nil, err
	}
	if opt.TopK <= 0 {
		opt.TopK = 5
	}
	r, err := newFaceRun(run, opt)
	if err != nil {
		return nil, defaultmodel.StaleCopy(src, err)
	}
	r.source = src.String()
	return r, nil
}

// OpenArgs is how commands that take an optional run before their photos
// choose the model: when args[0] is a run folder (runs.IsRun) that run,
// with the other arguments as rest; otherwise the default model
// (OpenDefault), and every argument is a photo.
func OpenArgs(args []string, opt Options) (r Recognizer, rest []string, err error) {
	if len(args) > 0 && runs.IsRun(args[0]) {
		r, err = Open(args[0], opt)
		return r, args[1:], err
	}
	r, err = OpenDefault(opt)
	return r, args, err
}

// DefaultNote is what commands say when they use the default model
// because no run was given: which one, and how many people it knows.
func DefaultNote(r Recognizer) string {
	return fmt.Sprintf("no run given: using %s (%d people)", r.Info().Source, len(r.Info().Classes))
}
