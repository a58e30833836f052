package runs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LockFile is the run folder's writer lock. A run folder has one writer at
// a time (train, train --resume, enroll), because each of them reads the
// run, changes it and writes it back: two at once would each write a
// version without the other's change (two enrolls at once lost a person).
// Readers (predict, eval, serve) take no lock: every file is replaced
// atomically, so they see a whole old or a whole new file.
//
// The lock is an advisory lock (flock) on this file, which the kernel
// drops when its holder exits, kill -9 included, so a crash never leaves a
// run locked. The file stays behind between writers; it says who holds it
// (pid, command, since when) for the "in use" message.
const LockFile = ".starid.lock"

// ErrInUse is returned (wrapped) when another process holds a run folder.
var ErrInUse = errors.New("run folder in use")

// RunLock is a held run-folder lock.
type RunLock struct{ f *os.File }

// LockRun takes dir's writer lock for command ("starid enroll"), which
// must exist as a folder. With wait 0 it fails at once when another
// process holds the lock, naming it; otherwise it retries until wait has
// passed, telling waiting (when not nil) once who it waits for.
func LockRun(dir, command string, wait time.Duration, waiting func(holder string)) (*RunLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			// Said as OpenRun says it, so every command names a
			// mistyped run the same way.
			return nil, fmt.Errorf("%s: no such run directory", dir)
		}
		return nil, fmt.Errorf("run folder %s: cannot create its lock file: %w", dir, unwrapPath(err))
	}
	deadline := time.Now().Add(wait)
	told := false
	for {
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("run folder %s: cannot lock %s: %w", dir, path, err)
		}
		if held {
			break
		}
		holder := lockHolder(path)
		if !time.Now().Before(deadline) {
			f.Close()
			advice := "wait for it to finish, or stop it, and try again"
			if wait > 0 {
				advice = fmt.Sprintf("waited %s; wait for it to finish, or stop it, and try again", wait.Round(time.Second))
			}
			return nil, fmt.Errorf("%w: run folder %s is in use by %s; %s", ErrInUse, dir, holder, advice)
		}
		if !told && waiting != nil {
			waiting(holder)
			told = true
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)+time.Millisecond))
	}
	// Say who holds it; a failure here only makes a rival's message vaguer.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(fmt.Sprintf("pid %d\n%s\n%s\n", os.Getpid(), command, time.Now().UTC().Format(time.RFC3339))), 0)
	}
	return &RunLock{f: f}, nil
}

// Unlock releases the lock (closing the file drops it).
func (l *RunLock) Unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// lockHolder describes the process named in a lock file.
func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	pid, ok := strings.CutPrefix(lines[0], "pid ")
	if _, perr := strconv.Atoi(pid); err != nil || !ok || perr != nil || len(lines) < 3 {
		return "another process"
	}
	return fmt.Sprintf("pid %s (%s, since %s)", pid, lines[1], lines[2])
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
