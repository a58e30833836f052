package runeval

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunNamesTheMissingRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	if _, err := Run(dir, Options{}); err == nil || !strings.Contains(err.Error(), dir+": no such run directory") {
		t.Errorf("err = %v", err)
	}
}

// Usage errors stay distinguishable from input errors once wrapped, so the
// command line can pick its exit status.
func TestUsageErrorSurvivesWrapping(t *testing.T) {
	err := usagef("--strangers: %q is a person the run knows, not a stranger", "Ann")
	var ue UsageError
	if !errors.As(errors.Join(errors.New("context"), err), &ue) || !strings.Contains(ue.Msg, `"Ann"`) {
		t.Errorf("UsageError lost: %v", err)
	}
}
