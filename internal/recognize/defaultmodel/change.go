package defaultmodel

import (
	"context"
	"fmt"
	"io"

	"starid/internal/identify"
)

// Change applies change (an enroll, a rename, a removal) to the face run
// in run, or when run is "" to the user's copy of the built-in model
// (Edit, which makes the copy first). It tells stderr when it waits for
// another writer of the folder, and where a change without a run went.
func Change(run string, opt identify.EnrollOptions, stderr io.Writer, change func(dir string, opt identify.EnrollOptions) error) error {
	waiting := func(dir string) func(string) {
		return func(holder string) {
			fmt.Fprintf(stderr, "run folder %s is in use by %s; waiting up to %s for it\n", dir, holder, identify.DefaultLockWait)
		}
	}
	if run != "" {
		opt.Waiting = waiting(run)
		return change(run, opt)
	}
	src, err := Edit(func(dir string) error {
		opt.Waiting = waiting(dir)
		return change(dir, opt)
	})
	if err == nil {
		fmt.Fprintf(stderr, "no run given: changed %s; predict, serve and eval without a run now use it "+
			"(remove the folder to go back to the built-in model)\n", src)
	}
	return err
}

// Enroll enrolls photos of name into the face run in run, or when run is
// "" into the user's copy of the built-in model (Change).
func Enroll(ctx context.Context, run, name string, photos []string, d identify.Describer, opt identify.EnrollOptions,
	stderr io.Writer) (*identify.EnrollResult, error) {
	var res *identify.EnrollResult
	err := Change(run, opt, stderr, func(dir string, opt identify.EnrollOptions) error {
		var err error
		res, err = identify.Enroll(ctx, dir, name, photos, d, opt)
		return err
	})
	return res, err
}

// Rename is identify.Rename in run, or when run is "" in the user's copy.
func Rename(run, old, new string, opt identify.EnrollOptions, stderr io.Writer) error {
	return Change(run, opt, stderr, func(dir string, opt identify.EnrollOptions) error {
		return identify.Rename(dir, old, new, opt)
	})
}

// Remove is identify.Remove in run, or when run is "" in the user's copy.
func Remove(ctx context.Context, run, name string, opt identify.EnrollOptions, stderr io.Writer) error {
	return Change(run, opt, stderr, func(dir string, opt identify.EnrollOptions) error {
		return identify.Remove(ctx, dir, name, opt)
	})
}
