package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// tree is a root with a "pick" group holding "one", whose RunE returns the
// error the test chooses.
func tree(errOut *bytes.Buffer, fail error) *cobra.Command {
	one := &cobra.Command{Use: "one", RunE: func(*cobra.Command, []string) error { return fail }}
	one.Flags().Bool("json", false, "")
	return Root("tool", "a tool", new(bytes.Buffer), errOut, Group("pick", "pick one", one))
}

var errOther = errors.New("other")

func TestExecute(t *testing.T) {
	cases := []struct {
		args   []string
		fail   error
		status int
		want   string
	}{
		{[]string{"pick", "one"}, nil, ExitOK, ""},
		{[]string{"pick", "one"}, errors.New("photo.jpg: broken"), ExitInput, "tool pick one: photo.jpg: broken\n"},
		// A library's several-line error (a driver trying two addresses)
		// comes out on one line, each repeated line once.
		{[]string{"pick", "one"}, errors.New("connect to db:\n\t1.2.3.4: refused\n\t1.2.3.4: refused\n\t::1: refused\n"), ExitInput,
			"tool pick one: connect to db: 1.2.3.4: refused; ::1: refused\n"},
		{[]string{"pick", "one"}, errors.Join(errors.New("a.jpg: broken"), errors.New("b.jpg: empty")), ExitInput, "tool pick one: a.jpg: broken; b.jpg: empty\n"},
		{[]string{"pick", "one"}, Usagef("--a and\n--b"), ExitUsage, "tool pick one: --a and; --b\nRun"},
		{[]string{"pick", "one"}, fmt.Errorf("wrapped: %w", Usagef("--n %d: bad", 3)), ExitUsage, "tool pick one: wrapped: --n 3: bad\nRun 'tool pick one --help' for usage.\n"},
		{[]string{"pick", "one"}, errOther, ExitUsage, "Run 'tool pick one --help'"},
		{[]string{"pick", "one", "-json"}, nil, ExitUsage, "(long flags take two dashes: --json)"},
		{[]string{"pick", "one", "--nope"}, nil, ExitUsage, "unknown flag: --nope"},
		{[]string{"pik"}, nil, ExitUsage, "tool: unknown command \"pik\"; did you mean pick?\nRun 'tool --help' for usage.\n"},
		{[]string{"pick"}, nil, ExitUsage, "missing sub-command: one"},
		{[]string{"pick", "onn"}, nil, ExitUsage, "unknown sub-command \"onn\" (want one); did you mean one?"},
		{nil, nil, ExitUsage, "a tool"},
	}
	for _, c := range cases {
		var errOut bytes.Buffer
		got := Execute(tree(&errOut, c.fail), c.args, &errOut, func(err error) bool { return errors.Is(err, errOther) })
		if got != c.status || !strings.Contains(errOut.String(), c.want) || (c.want == "" && errOut.Len() > 0) ||
			(c.fail != nil && strings.Count(errOut.String(), "\n") > 2) {
			t.Errorf("%q: status %d, stderr %q; want %d and %q", c.args, got, errOut.String(), c.status, c.want)
		}
	}
}

func TestGivenAndShowDefault(t *testing.T) {
	c := &cobra.Command{Use: "x"}
	f := c.Flags()
	f.Int("b", 0, "")
	f.Float64("threshold", -1, "")
	f.Int("a", 0, "")
	ShowDefault(f, "threshold", "the run's")
	if err := f.Parse([]string{"--b", "1", "--a", "2"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Given(f), ","); got != "a,b" {
		t.Errorf("Given = %q, want a,b", got)
	}
	if d := f.Lookup("threshold").DefValue; d != "the run's" {
		t.Errorf("DefValue = %q", d)
	}
	if !OneOf("SGD", "adam", "sgd") || OneOf("rms", "adam", "sgd") {
		t.Error("OneOf ignores case and refuses the others")
	}
}

func TestWriteJSONIndents(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, map[string]int{"a": 1}); err != nil || b.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("WriteJSON = %q, %v", b.String(), err)
	}
}

// --workers: negative is a usage error, 0 means one per core, and a huge
// value is cut to MaxWorkersPerCore per core.
func TestWorkers(t *testing.T) {
	limit := MaxWorkersPerCore * runtime.GOMAXPROCS(0)
	for _, c := range []struct{ in, want int }{{0, 0}, {1, 1}, {limit, limit}, {limit + 1, limit}, {1 << 40, limit}} {
		var note bytes.Buffer
		if got, err := Workers(c.in, &note); err != nil || got != c.want || (note.Len() > 0) != (c.in > limit) {
			t.Errorf("Workers(%d) = %d, %v, note %q; want %d", c.in, got, err, note.String(), c.want)
		}
	}
	if _, err := Workers(-1, io.Discard); err == nil || !errors.As(err, new(UsageError)) || err.Error() != "--workers -1: must be 0 (one per core) or more" {
		t.Errorf("Workers(-1): %v", err)
	}
}
