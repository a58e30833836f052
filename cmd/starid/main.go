// Command starid recognizes Hollywood stars in photos: it trains the
// tutorial's VGG16 family from scratch, and names faces with a pretrained
// face network. Each sub-command lives in its own file (flags bound to an
// options struct, one package call, printing); this one builds the command
// tree, and internal/cli turns errors into exit statuses.
package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"starid/internal/cli"
	"starid/internal/eval/runeval"
)

// The command line's conventions, named as the command files use them.
const (
	exitOK    = cli.ExitOK
	exitUsage = cli.ExitUsage
	exitInput = cli.ExitInput
)

type usageError = cli.UsageError

var (
	usagef        = cli.Usagef
	group         = cli.Group
	showDefault   = cli.ShowDefault
	given         = cli.Given
	oneOf         = cli.OneOf
	writeJSON     = cli.WriteJSON
	interruptible = cli.Interruptible
)

// commands are the constructors of the sub-commands; each command file adds
// its own in init, so adding a command touches no other file.
var commands []func() *cobra.Command

func addCommand(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command line as a function: arguments in, exit status out. The
// tree is built afresh each time since flags bind to per-command options
// structs.
func run(args []string, stdout, stderr io.Writer) int {
	subs := make([]*cobra.Command, len(commands))
	for i, newCmd := range commands {
		subs[i] = newCmd()
	}
	root := cli.Root("starid", "starid recognizes Hollywood stars in photos.", stdout, stderr, subs...)
	return cli.Execute(root, args, stderr, func(err error) bool { return errors.As(err, new(runeval.UsageError)) })
}
