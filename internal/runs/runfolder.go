package runs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"starid/internal/atomicfile"
)

// runFiles are the files a run writes in its folder.
var runFiles = []string{ModelInfoFile, BestFile, LastFile, HistoryFile, CurvesFile, SplitFile, LogFile}

// abandoned lists the files of dir that belong to a run that never
// completed an epoch (killed, interrupted or failed before its first
// checkpoint): split.json and model.json without any weights. Such a start
// holds nothing worth keeping, so a new run with the same --out replaces
// it rather than sending the user between "not empty" and "nothing to
// resume". ok is false when dir holds anything else (a real run, or files
// that are not a run's); train.log, the lock and temporary files are
// neither (train.log is appended to).
func abandoned(dir string, entries []fs.DirEntry) (files []string, ok bool) {
	for _, e := range entries {
		n := e.Name()
		switch {
		case n == LockFile || n == LogFile || atomicfile.IsTemp(n):
		case n == SplitFile:
			files = append(files, n)
		case n == ModelInfoFile:
			// Only a model.json this starid wrote for a run that has
			// not got anywhere; anything else is not ours to remove.
			info, err := readModelInfo(dir)
			if err != nil || info.BestEpoch > 0 {
				return nil, false
			}
			files = append(files, n)
		default:
			return nil, false
		}
	}
	return files, true
}

// CheckNewRun refuses a run folder that already holds a run or other
// files, so that a typo in --out cannot overwrite another run. A folder
// left by a run that never completed an epoch passes (StartNewRun takes
// it over). hint ends the refusal: what the user can do instead.
func CheckNewRun(dir, hint string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("run directory %s: %w", dir, unwrapPath(err))
	}
	if _, ok := abandoned(dir, entries); ok {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Name() != LockFile {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return fmt.Errorf("run directory %s exists and is not empty (it has %s); %s",
		dir, strings.Join(names[:min(len(names), 4)], ", "), hint)
}

// StartNewRun creates dir, takes its lock (failing at once, naming the
// holder, when another process has it) and checks again, under the lock,
// that it is free for a new run (hint as for CheckNewRun). What an abandoned start left (see
// abandoned) and stale temporary files are removed, and note is told.
func StartNewRun(dir, command, hint string, note func(string)) (*RunLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory %s: %w", dir, unwrapPath(err))
	}
	lock, err := LockRun(dir, command, 0, nil)
	if err != nil {
		return nil, err
	}
	// Checked again: another command may have filled the folder between
	// the first check and taking the lock.
	if err := CheckNewRun(dir, hint); err != nil {
		lock.Unlock()
		return nil, err
	}
	entries, _ := os.ReadDir(dir)
	files, _ := abandoned(dir, entries)
	atomicfile.CleanStale(dir, 0)
	for _, f := range files {
		os.Remove(filepath.Join(dir, f))
	}
	if len(files) > 0 && note != nil {
		note(fmt.Sprintf("%s held a run that never completed an epoch (%s); starting it afresh",
			dir, strings.Join(files, ", ")))
	}
	return lock, nil
}

// DiscardNewRun removes what a new run that failed before completing
// wrote, and its lock, so that the same --out can be used again at once;
// the folder itself goes only when nothing else has appeared in it. The
// folder was free when the run started, so these files are the run's.
func DiscardNewRun(dir string, lock *RunLock) {
	for _, name := range runFiles {
		os.Remove(filepath.Join(dir, name))
	}
	atomicfile.CleanStale(dir, 0)
	os.Remove(filepath.Join(dir, LockFile))
	lock.Unlock()
	os.Remove(dir)
}
