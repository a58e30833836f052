// Command starid recognizes Hollywood stars in photos: it trains the
// tutorial's VGG16 family from scratch, and names faces with a pretrained
// face network. Each sub-command lives in its own file (flags bound to an
// options struct, one package call, printing); this one builds the command
// tree with cobra and turns errors into exit statuses.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"starid/internal/eval/runeval"
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

// flagError is pflag's complaint about the command line (unknown flag,
// unparsable value): a usage error.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }

// commands are the constructors of the sub-commands; each command file adds
// its own in init, so adding a command touches no other file.
var commands []func() *cobra.Command

func addCommand(newCmd func() *cobra.Command) { commands = append(commands, newCmd) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// newRoot builds a fresh command tree: flags bind to per-command options
// structs, so every run (and every test) needs its own.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "starid",
		Short: "starid recognizes Hollywood stars in photos.",
		// Errors and usage are printed once, by run, in the form Go's own
		// tools use: one line, then where to read more.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
	for _, newCmd := range commands {
		root.AddCommand(newCmd())
	}
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// run is the command line as a function: arguments in, exit status out.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	if len(args) == 0 {
		// Nothing asked: the overview, on stderr since it is not output.
		root.SetOut(stderr)
		_ = root.Help()
		return exitUsage
	}
	// cobra would parse the unknown name's flags against the root first
	// and complain about those; the name is the mistake to report. Names
	// starting "__" are cobra's hidden completion commands.
	if name := args[0]; !strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "__") {
		if c, _, _ := root.Find(args[:1]); c == root {
			fmt.Fprintf(stderr, "starid: unknown command %q%s\nRun 'starid --help' for usage.\n", name, didYouMean(root, name))
			return exitUsage
		}
	}
	root.SetArgs(args)
	c, err := root.ExecuteC()
	return exitStatus(c, err, stderr)
}

// exitStatus prints err (if any) as one line naming the command, plus a
// pointer to the command's help for usage errors, and returns the status.
func exitStatus(c *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	path := c.CommandPath()
	var fe flagError
	if errors.As(err, &fe) || errors.As(err, new(usageError)) || errors.As(err, new(runeval.UsageError)) {
		fmt.Fprintf(stderr, "%s: %v%s\nRun '%s --help' for usage.\n", path, err, dashHint(fe.err), path)
		return exitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", path, err)
	return exitInput
}

// dashHint explains pflag's "unknown shorthand flag: 'j' in -json", which
// an old single-dash long flag gets.
func dashHint(err error) string {
	if err == nil {
		return ""
	}
	_, arg, ok := strings.Cut(err.Error(), "unknown shorthand flag: ")
	if _, word, found := strings.Cut(arg, " in -"); ok && found && len(word) > 1 {
		return fmt.Sprintf(" (long flags take two dashes: --%s)", word)
	}
	return ""
}

// didYouMean is "; did you mean X?" for a mistyped sub-command of c, or "".
func didYouMean(c *cobra.Command, name string) string {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's own choice for the root
	}
	s := c.SuggestionsFor(name)
	if len(s) == 0 {
		return ""
	}
	return "; did you mean " + strings.Join(s, " or ") + "?"
}

// group is a command that only holds sub-commands: alone, or with a name
// that is none of them, it is a usage error naming the choices.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs}
	c.AddCommand(subs...)
	c.RunE = func(c *cobra.Command, args []string) error {
		var names []string
		for _, s := range c.Commands() {
			names = append(names, s.Name())
		}
		choices := strings.Join(names, ", ")
		if len(args) == 0 {
			return usagef("missing sub-command: %s", choices)
		}
		return usagef("unknown sub-command %q (want %s)%s", args[0], choices, didYouMean(c, args[0]))
	}
	return c
}

// showDefault replaces the default pflag prints for a flag whose zero or
// negative default is a sentinel ("-1" meaning "the run's calibrated
// threshold") with what it means.
func showDefault(fs *pflag.FlagSet, name, meaning string) {
	fs.Lookup(name).DefValue = meaning
}

// given lists the flags the command line set, by name (sorted), as
// opposed to their defaults.
func given(fs *pflag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}
