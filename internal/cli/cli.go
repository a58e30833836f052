// Package cli holds starid's command-line conventions on spf13/cobra, so
// the command files stay flag binding, one package call and printing:
// usage errors and the exit statuses they map to, the one-line error form,
// groups of sub-commands, --json output and Ctrl-C handling.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses, as the command-line contract fixes them.
const (
	ExitOK    = 0
	ExitUsage = 1 // bad flags or arguments
	ExitInput = 2 // an input (file, folder, model) cannot be used
)

// UsageError marks errors that are the caller's wording, not the inputs:
// packages return it for flag values and combinations that mean nothing.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// Usagef is a UsageError with a formatted message.
func Usagef(format string, args ...any) error { return UsageError{fmt.Sprintf(format, args...)} }

// flagError is pflag's complaint about the command line (unknown flag,
// unparsable value): a usage error.
type flagError struct{ err error }

func (e flagError) Error() string { return e.err.Error() }

// Root is the top command holding subs; errors and usage are printed once,
// by Execute, in the form Go's own tools use: one line, then where to read
// more.
func Root(use, short string, stdout, stderr io.Writer, subs ...*cobra.Command) *cobra.Command {
	root := &cobra.Command{Use: use, Short: short, SilenceErrors: true, SilenceUsage: true}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError{err} })
	root.AddCommand(subs...)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// Execute runs root on args and returns the exit status, having printed
// any error. isUsage names further error types that are usage errors.
func Execute(root *cobra.Command, args []string, stderr io.Writer, isUsage func(error) bool) int {
	if len(args) == 0 {
		// Nothing asked: the overview, on stderr since it is not output.
		root.SetOut(stderr)
		_ = root.Help()
		return ExitUsage
	}
	// cobra would parse the unknown name's flags against the root first
	// and complain about those; the name is the mistake to report. Names
	// starting "__" are cobra's hidden completion commands.
	if name := args[0]; !strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "__") {
		if c, _, _ := root.Find(args[:1]); c == root {
			fmt.Fprintf(stderr, "%s: unknown command %q%s\nRun '%[1]s --help' for usage.\n", root.Name(), name, didYouMean(root, name))
			return ExitUsage
		}
	}
	root.SetArgs(args)
	c, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	path := c.CommandPath()
	var fe flagError
	if errors.As(err, &fe) || errors.As(err, new(UsageError)) || isUsage(err) {
		fmt.Fprintf(stderr, "%s: %s%s\nRun '%s --help' for usage.\n", path, OneLine(err.Error()), dashHint(fe.err), path)
		return ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %s\n", path, OneLine(err.Error()))
	return ExitInput
}

// OneLine is an error message on one line, as scripts reading stderr
// expect: some libraries' errors span lines (a database driver lists each
// address it tried, errors.Join one error a line). The lines are joined
// with "; " (after a line ending in ":" with a space), each repeated line
// kept once.
func OneLine(msg string) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
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

// Group is a command that only holds sub-commands: alone, or with a name
// that is none of them, it is a usage error naming the choices.
func Group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs}
	c.AddCommand(subs...)
	c.RunE = func(c *cobra.Command, args []string) error {
		var names []string
		for _, s := range c.Commands() {
			names = append(names, s.Name())
		}
		choices := strings.Join(names, ", ")
		if len(args) == 0 {
			return Usagef("missing sub-command: %s", choices)
		}
		return Usagef("unknown sub-command %q (want %s)%s", args[0], choices, didYouMean(c, args[0]))
	}
	return c
}

// ShowDefault replaces the default pflag prints for a flag whose zero or
// negative default is a sentinel ("-1" meaning "the run's calibrated
// threshold") with what it means.
func ShowDefault(fs *pflag.FlagSet, name, meaning string) {
	fs.Lookup(name).DefValue = meaning
}

// Given lists the flags the command line set, by name (sorted), as
// opposed to their defaults.
func Given(fs *pflag.FlagSet) []string {
	var names []string
	fs.Visit(func(f *pflag.Flag) { names = append(names, f.Name) })
	return names
}

// OneOf reports whether v is one of allowed, ignoring case.
func OneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}

// WriteJSON prints v indented, the form of every --json output.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Interruptible is the context of a long job: Ctrl-C (or a polite kill)
// cancels it, so the job ends cleanly (a training run stays resumable from
// its last completed epoch); a second Ctrl-C kills at once, as usual.
func Interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}
