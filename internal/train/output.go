package train

import (
	"fmt"
	"io"
	"starid/internal/runs"
	"strings"
	"sync"
	"time"
)

// Output says where a run reports to (runs.Output) plus, for tests, the
// hooks that steer a run. Train also appends everything it prints (except
// the progress display) to RUN/train.log, time-stamped.
type Output struct {
	runs.Output

	hooks *hooks // tests only
}

// hooks let tests steer a run deterministically.
type hooks struct {
	// evaluated may change an epoch's record before the best-model
	// decision (to make a later epoch worse on purpose).
	evaluated func(rec *runs.EpochRecord)
	// committed runs after all of an epoch's files are written; an error
	// ends Train at once, with no further writes (a kill -9 stand-in).
	committed func(rec runs.EpochRecord) error
	// batch runs before each training step.
	batch func(epoch, batch int)
}

// logger fans messages out to the terminal streams and train.log.
type logger struct {
	mu      sync.Mutex
	out     runs.Output
	file    io.Writer // train.log; nil before the run directory exists
	pending []string  // lines logged before file was set
	now     func() time.Time
}

func newLogger(out runs.Output) *logger {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	return &logger{out: out, now: time.Now}
}

func (l *logger) toFile(s string) {
	ts := l.now().Format("2006-01-02T15:04:05.000Z07:00")
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		line = ts + " " + line + "\n"
		if l.file == nil {
			l.pending = append(l.pending, line)
		} else {
			io.WriteString(l.file, line)
		}
	}
}

// setFile starts writing to train.log, beginning with what was logged
// before it could be opened.
func (l *logger) setFile(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.file = w
	for _, line := range l.pending {
		io.WriteString(w, line)
	}
	l.pending = nil
}

// result prints a per-epoch line on stdout and logs it.
func (l *logger) result(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.out.Stdout, s)
	l.toFile(s)
}

// notef prints a note on stderr and logs it.
func (l *logger) notef(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	fmt.Fprintln(l.out.Stderr, s)
	l.toFile(s)
}

// logf only logs (details too long for the terminal).
func (l *logger) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.toFile(fmt.Sprintf(format, args...))
}
