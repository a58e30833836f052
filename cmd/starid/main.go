// Command starid recognizes Hollywood stars in photos: it trains the
// tutorial's VGG16 family from scratch, and names faces with a pretrained
// face network. Each sub-command lives in its own file (flags bound to an
// options struct, one package call, printing); this one builds the command
// tree, and internal/cli (as clix: the tests have a cli helper) turns errors
// into exit statuses.
package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	clix "starid/internal/cli"
	"starid/internal/eval/runeval"
	"starid/internal/library"
)

// The command line's conventions, named as the command files use them.
const (
	exitOK    = clix.ExitOK
	exitUsage = clix.ExitUsage
	exitInput = clix.ExitInput
)

type usageError = clix.UsageError

var (
	usagef        = clix.Usagef
	group         = clix.Group
	showDefault   = clix.ShowDefault
	given         = clix.Given
	oneOf         = clix.OneOf
	writeJSON     = clix.WriteJSON
	interruptible = clix.Interruptible
)

// commands are the constructors of the sub-commands; each command file adds
// its own in init, so adding a command touches no other file.
var commands []func() *cobra.Command

func addCommand(newCmds ...func() *cobra.Command) { commands = append(commands, newCmds...) }

// command is a sub-command with its usage line, one-line help and run
// function; each command file adds its flags and any long help to it.
func command(use, short string, run func(c *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, RunE: run}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command line as a function: arguments in, exit status out. The
// tree is built afresh each time since flags bind to per-command options
// structs.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	return clix.Execute(root, args, stderr, func(err error) bool {
		return errors.As(err, new(runeval.UsageError)) || errors.As(err, new(library.UsageError))
	})
}

// newRoot builds the whole command tree; run executes it and the docs test
// walks it.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	subs := make([]*cobra.Command, len(commands))
	for i, newCmd := range commands {
		subs[i] = newCmd()
	}
	return clix.Root("starid", "starid recognizes Hollywood stars in photos.", stdout, stderr, subs...)
}
