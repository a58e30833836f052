package recognize

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"starid/internal/identify"
	"starid/internal/recognize/defaultmodel"
)

// TestDefaultReloadingFollowsTheCopy: a server on the default model
// (serve without a run) names faces after enroll --rename without a
// restart, whether the user's copy existed when it started or enroll made
// it since, and goes back to the built-in model when the copy is removed.
// Before, it kept the model it started with until restarted.
func TestDefaultReloadingFollowsTheCopy(t *testing.T) {
	copyDir := filepath.Join(t.TempDir(), "default-run")
	t.Setenv(defaultmodel.EnvDir, copyDir)
	var notes []error
	r, err := OpenDefaultReloading(Options{}, func(err error) { notes = append(notes, err) })
	if err != nil {
		t.Fatal(err)
	}
	has := func(name string) bool { return slices.Contains(r.Info().Classes, name) }
	if !has("Will Smith") || r.Info().Source == "" {
		t.Fatalf("built-in model: %+v", r.Info())
	}
	rename := func(old, new string) {
		t.Helper()
		if err := defaultmodel.Rename("", old, new, identify.EnrollOptions{}, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	rename("Will Smith", "Will Smith Jr") // makes the copy
	if !has("Will Smith Jr") || has("Will Smith") {
		t.Errorf("after the copy was made: %v", r.Info().Classes)
	}
	rename("Tom Hanks", "Thomas Hanks") // changes the copy
	if !has("Thomas Hanks") {
		t.Errorf("after the copy changed: %v", r.Info().Classes)
	}
	if err := os.RemoveAll(copyDir); err != nil {
		t.Fatal(err)
	}
	if !has("Will Smith") || !has("Tom Hanks") {
		t.Errorf("after the copy was removed: %v", r.Info().Classes)
	}
	if len(notes) != 3 || slices.ContainsFunc(notes, func(e error) bool { return e != nil }) {
		t.Errorf("notified %v, want three reopenings", notes)
	}
}
