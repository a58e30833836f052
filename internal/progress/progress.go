// Package progress draws a progress bar with an ETA for long jobs, on a
// terminal only: written to a pipe or a file it draws nothing, so logs
// and scripts see only the job's own output. The drawing is
// schollz/progressbar's; this package adds the terminal test, nil-safety
// (a nil *Bar does nothing, so callers need no checks), a callback form
// for packages that must not import a display, and a writer that erases
// the bar before a message so messages never land inside it.
package progress

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// throttle is the least time between redraws: a tenth of a second is
// smooth enough and costs nothing next to the work it reports (tests set
// 0 to see every step).
var throttle = 100 * time.Millisecond

// Bar is one progress display. A nil *Bar does nothing.
type Bar struct {
	mu     sync.Mutex
	w      io.Writer
	label  string
	pb     *progressbar.ProgressBar // the current round; nil before a total is known
	total  int
	done   int
	closed bool
}

// New is a bar for a job of total steps (0 when not yet known: the bar
// appears once Set gives a total), drawn on w when w is a terminal, and
// nil (nothing drawn) otherwise.
func New(w io.Writer, total int, label string) *Bar {
	if !IsTerminal(w) {
		return nil
	}
	return NewTerminal(w, total, label)
}

// NewTerminal draws on w whatever w is: for callers that have decided
// already, and for tests.
func NewTerminal(w io.Writer, total int, label string) *Bar {
	b := &Bar{w: w, label: label}
	if total > 0 {
		b.start(total)
	}
	return b
}

// IsTerminal reports whether w is a terminal (a file descriptor that is
// a TTY); pipes, files and in-memory writers are not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// start begins a new round of total steps; the caller holds b.mu (or
// owns b alone).
func (b *Bar) start(total int) {
	b.erase()
	b.total, b.done = total, 0
	b.pb = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.label),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(throttle),
		// The line is left empty when a round completes, so the
		// caller's next message (an epoch's result) starts clean.
		progressbar.OptionClearOnFinish(),
	)
}

// erase clears the drawn bar, if any; the caller holds b.mu.
func (b *Bar) erase() {
	if b.pb != nil && !b.pb.IsFinished() {
		b.pb.Clear()
	}
}

// Add counts n more steps done.
func (b *Bar) Add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.pb == nil {
		return
	}
	b.done += n
	b.pb.Set(min(b.done, b.total))
}

// Set says done of total steps are done. A total that differs from the
// last one, or a done below the last one, starts a new round: a job
// reported in rounds (a training run's epochs) gets a fresh bar and ETA
// for each. A round that reaches its total is erased.
func (b *Bar) Set(done, total int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || total <= 0 {
		return
	}
	if b.pb == nil || total != b.total || done < b.done {
		b.start(total)
	}
	b.done = min(max(done, 0), total)
	b.pb.Set(b.done)
}

// Describe changes the label shown before the bar.
func (b *Bar) Describe(label string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.label = label
	if b.pb != nil && !b.closed && !b.pb.IsFinished() {
		b.pb.Describe(label)
	}
}

// Finish ends the display and erases the bar, so whatever is printed next
// (a result, or an error after an interruption) starts on a clean line.
// Later calls do nothing.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.erase()
	b.closed = true
	b.pb = nil
}

// Func is the bar as a callback, for packages that take
// `Progress func(done, total int)` (see Set). A nil *Bar gives nil, which
// those packages read as "no progress wanted".
func (b *Bar) Func() func(done, total int) {
	if b == nil {
		return nil
	}
	return b.Set
}

// Writer is w with the bar erased before each write, so messages printed
// while the bar is up get lines of their own; the bar is drawn again at
// its next step. Use it for every stream that shares the bar's terminal.
// A nil *Bar gives w itself.
func (b *Bar) Writer(w io.Writer) io.Writer {
	if b == nil {
		return w
	}
	return erasingWriter{b: b, w: w}
}

type erasingWriter struct {
	b *Bar
	w io.Writer
}

func (e erasingWriter) Write(p []byte) (int, error) {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if !e.b.closed {
		e.b.erase()
	}
	return e.w.Write(p)
}
