package runs

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLockRunMissingFolder: a run folder that does not exist is named as
// OpenRun names it (enroll --rename on a mistyped run said "cannot create
// its lock file" while enroll --list said "no such run directory").
func TestLockRunMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	_, err := LockRun(dir, "starid test", 0, nil)
	if err == nil || !strings.Contains(err.Error(), dir+": no such run directory") {
		t.Fatalf("LockRun on a missing folder: %v", err)
	}
	lock, err := LockRun(t.TempDir(), "starid test", 0, nil)
	if err != nil {
		t.Fatalf("LockRun on a folder: %v", err)
	}
	lock.Unlock()
}
