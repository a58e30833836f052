// Command starid recognizes Hollywood stars in photos: it trains the
// tutorial's VGG16 family from scratch, and names faces with a pretrained
// face network. Each sub-command lives in its own file; this one
// only dispatches.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"starid/internal/eval/runeval"
	"strings"
)

// Exit statuses, as the command-line contract fixes them.
const (
	exitOK    = 0
	exitUsage = 1 // bad flags or arguments
	exitInput = 2 // an input (file, folder, model) cannot be used
)

// usageError marks errors that are the caller's wording, not the inputs.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string, stdout, stderr io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "starid: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
	err := cmd.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)), errors.As(err, new(runeval.UsageError)):
		fmt.Fprintf(stderr, "starid %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "starid %s: %v\n", args[0], err)
		return exitInput
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "starid recognizes Hollywood stars in photos.\n\nUsage: starid COMMAND [arguments]\n\nCommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'starid COMMAND --help' for a command's flags.")
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments ("starid train DIR --model vgg16"), which the flag
// package alone does not allow. It returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet makes a flag set whose -h prints the command's usage to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: starid %s\n\nFlags:\n", usage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse wraps parseInterleaved and shows usage on -h.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	// flag.FlagSet prints the usage itself on -h/--help.
	return parseInterleaved(fs, args)
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}

// flagGiven says whether the command line set the flag name (as opposed
// to its default).
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
