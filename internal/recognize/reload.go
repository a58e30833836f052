package recognize

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"starid/internal/faces"
	"starid/internal/recognize/defaultmodel"
	"starid/internal/runs"
)

// Reloading is a Recognizer that follows its run folder: when enroll (or
// anything else) replaces the run's model files, the next photo is named
// by the new model, without a restart. Each call costs two stat calls;
// when they show a change, one caller reopens the run while the others go
// on with the model they have, and the new recognizer replaces the old in
// one atomic swap, so a photo is named wholly by one model or the other.
//
// Half-written models are never served: every writer of a run replaces
// its files atomically (a rename), and a reopening that fails (a file
// damaged, or the pair read between two writes and found inconsistent)
// keeps the old model until the files change again. The face nets are
// loaded once and shared by every reopening.
type Reloading struct {
	dir    string
	open   func() (Recognizer, error) // opens what dir holds now
	notify func(err error)
	cur    atomic.Pointer[loaded]
	mu     sync.Mutex // held by the one caller reopening the run
	failed *runState  // the files as they were when a reopening last failed; nil: none did
}

type loaded struct {
	r     Recognizer
	state runState
}

// runState is what stat says of the files a run is opened from.
type runState [2]os.FileInfo

// reloadFiles are the files Open reads; both are replaced atomically by
// their writers.
var reloadFiles = [2]string{runs.ModelInfoFile, runs.BestFile}

func statRun(dir string) runState {
	var s runState
	if dir == "" {
		return s // nothing to follow
	}
	for i, name := range reloadFiles {
		s[i], _ = os.Stat(filepath.Join(dir, name)) // a missing file is a state too
	}
	return s
}

// same reports whether the two states show the same files: the same file
// (device and inode, which a rename changes), size and modification time.
func (s runState) same(t runState) bool {
	for i := range s {
		a, b := s[i], t[i]
		if (a == nil) != (b == nil) {
			return false
		}
		if a != nil && (!os.SameFile(a, b) || a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime())) {
			return false
		}
	}
	return true
}

// OpenReloading opens the run in dir as Open does and follows it. notify,
// when not nil, is told of every reopening: nil when the new model is in
// use, the error when it could not be opened (once per state of the
// files; the old model stays in use).
func OpenReloading(dir string, opt Options, notify func(err error)) (*Reloading, error) {
	opt = shareFinder(opt)
	return openReloading(dir, func() (Recognizer, error) { return Open(dir, opt) }, notify)
}

// OpenDefaultReloading opens the default model as OpenDefault does and
// follows it as OpenReloading follows a run: the user's copy as enroll
// changes it, made or removed since (then the built-in model answers).
func OpenDefaultReloading(opt Options, notify func(err error)) (*Reloading, error) {
	dir, err := defaultmodel.UserDir()
	if err != nil {
		// Nowhere for a copy to appear: the built-in model, unchanging.
		dir = ""
	}
	opt = shareFinder(opt)
	return openReloading(dir, func() (Recognizer, error) { return OpenDefault(opt) }, notify)
}

// shareFinder makes opt's face pipeline load once for every reopening.
func shareFinder(opt Options) Options {
	if open := opt.OpenFinder; open != nil {
		var once sync.Once
		var f Finder
		var err error
		opt.OpenFinder = func() (Finder, error) {
			once.Do(func() { f, err = open() })
			return f, err
		}
	}
	return opt
}

func openReloading(dir string, open func() (Recognizer, error), notify func(err error)) (*Reloading, error) {
	state := statRun(dir)
	r, err := open()
	if err != nil {
		return nil, err
	}
	rl := &Reloading{dir: dir, open: open, notify: notify}
	rl.cur.Store(&loaded{r: r, state: state})
	return rl, nil
}

// current is the recognizer to use now, reopening the run first when its
// files changed and no one else is reopening it.
func (rl *Reloading) current() Recognizer {
	cur := rl.cur.Load()
	now := statRun(rl.dir)
	if now.same(cur.state) || !rl.mu.TryLock() {
		return cur.r
	}
	defer rl.mu.Unlock()
	if cur = rl.cur.Load(); now.same(cur.state) || rl.failed != nil && now.same(*rl.failed) {
		return cur.r // reopened meanwhile, or known to fail
	}
	// The state is taken before reading: should a writer replace a file
	// while Open reads, the next call sees a change and reads again.
	r, err := rl.open()
	if err != nil {
		rl.failed = &now
		if rl.notify != nil {
			rl.notify(err)
		}
		return cur.r
	}
	rl.failed = nil
	rl.cur.Store(&loaded{r: r, state: now})
	if rl.notify != nil {
		rl.notify(nil)
	}
	return r
}

// Info describes the model in use now.
func (rl *Reloading) Info() Info { return rl.current().Info() }

// FindsFaces says whether the model in use now needs the face pipeline.
func (rl *Reloading) FindsFaces() bool { return rl.current().FindsFaces() }

// Recognize names the faces of p with the model in use now.
func (rl *Reloading) Recognize(ctx context.Context, p *Photo) ([]Face, error) {
	return rl.current().Recognize(ctx, p)
}

// Name names faces found elsewhere with the model in use now.
func (rl *Reloading) Name(ctx context.Context, p *Photo, found []faces.Face) ([]Face, error) {
	return rl.current().Name(ctx, p, found)
}
