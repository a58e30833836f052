package runs

import (
	"io"

	"starid/internal/progress"
)

// ConsoleOutput is where a trainer run from the command line reports:
// stdout, or stderr when stdout is kept for JSON, with a progress bar
// (labelled with the run's long step) on stderr when it is a terminal;
// both streams erase the bar before a line. The caller finishes the bar.
func ConsoleOutput(stdout, stderr io.Writer, stdoutIsJSON bool, label string) (Output, *progress.Bar) {
	if stdoutIsJSON {
		stdout = stderr
	}
	bar := progress.New(stderr, 0, label)
	return Output{Stdout: bar.Writer(stdout), Stderr: bar.Writer(stderr), Progress: bar.Func()}, bar
}
