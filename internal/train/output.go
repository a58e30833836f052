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
	mu       sync.Mutex
	out      runs.Output
	file     io.Writer // train.log; nil before the run directory exists
	pending  []string  // lines logged before file was set
	barShown bool
	now      func() time.Time
}

func newLogger(out runs.Output) *logger {
	if out.Stdout == nil {
		out.Stdout = io.Discard
	}
	if out.Stderr == nil {
		out.Stderr = io.Discard
	}
	if out.ProgressEvery <= 0 {
		out.ProgressEvery = 15 * time.Second
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

// clearBar erases an in-place bar so a message does not land inside it.
func (l *logger) clearBar() {
	if l.barShown {
		fmt.Fprint(l.out.Stderr, "\r\033[K")
		l.barShown = false
	}
}

// result prints a per-epoch line on stdout and logs it.
func (l *logger) result(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clearBar()
	fmt.Fprintln(l.out.Stdout, s)
	l.toFile(s)
}

// notef prints a note on stderr and logs it.
func (l *logger) notef(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	l.clearBar()
	fmt.Fprintln(l.out.Stderr, s)
	l.toFile(s)
}

// logf only logs (details too long for the terminal).
func (l *logger) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.toFile(fmt.Sprintf(format, args...))
}

// progress reports how far an epoch has got.
type progress struct {
	l             *logger
	epoch, epochs int
	total         int // batches in the epoch, training and test
	start, shown  time.Time
}

func (l *logger) startEpoch(epoch, epochs, total int) *progress {
	t := l.now()
	return &progress{l: l, epoch: epoch, epochs: epochs, total: max(total, 1), start: t, shown: t}
}

// update shows that done batches are finished; phase is "train" or "test",
// loss the running mean training loss.
func (p *progress) update(done int, phase string, loss float64) {
	l := p.l
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	elapsed := now.Sub(p.start)
	eta := "?"
	if done > 0 {
		eta = fmtDuration(time.Duration(float64(elapsed) / float64(done) * float64(max(p.total-done, 0))))
	}
	if l.out.Terminal {
		if now.Sub(p.shown) < 100*time.Millisecond && done < p.total {
			return
		}
		const width = 30
		fill := min(width, done*width/p.total)
		bar := strings.Repeat("=", fill)
		if fill < width {
			bar += ">" + strings.Repeat(" ", width-fill-1)
		}
		fmt.Fprintf(l.out.Stderr, "\rEpoch %d/%d [%s] %d/%d %s  loss %.3f  ETA %s\033[K",
			p.epoch, p.epochs, bar, done, p.total, phase, loss, eta)
		l.barShown = true
		p.shown = now
		return
	}
	if now.Sub(p.shown) < l.out.ProgressEvery {
		return
	}
	p.shown = now
	fmt.Fprintf(l.out.Stderr, "epoch %d/%d: %d/%d batches (%s), loss %.3f, %s elapsed, ETA %s\n",
		p.epoch, p.epochs, done, p.total, phase, loss, fmtDuration(elapsed), eta)
}

// fmtDuration prints whole seconds, as m:ss above a minute.
func fmtDuration(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	if s < 3600 {
		return fmt.Sprintf("%d:%02d", s/60, s%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
}
