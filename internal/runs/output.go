package runs

import (
	"io"
	"time"
)

// Output says where a trainer reports to: the per-epoch lines on Stdout,
// notes, warnings and progress on Stderr. Both trainers also append what
// they print (except the progress display) to the run's train.log,
// time-stamped.
type Output struct {
	Stdout io.Writer // the per-epoch lines; nil discards
	Stderr io.Writer // notes, warnings and progress; nil discards
	// Terminal says Stderr is a terminal: progress is a bar redrawn in
	// place. Otherwise it is a plain line every ProgressEvery, so a log
	// file gets a few lines per epoch rather than one per batch.
	Terminal      bool
	ProgressEvery time.Duration // 0 means 15 s
}
