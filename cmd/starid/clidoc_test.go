package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestCLIDocCoversCommands keeps docs/cli.md, the contract scripts rely on,
// from drifting behind the binary: it walks the cobra tree (every command
// and sub-command that is not hidden) and checks that the doc names each
// command path and each of the command's own (non-inherited, non-hidden)
// flags, --help excepted.
//
// The rule. The doc is cut into blocks: a table row, a list item, a
// paragraph, or one line of a fenced code block. A block names a command
// when it holds a code span (or is a code line) whose words, after an
// optional leading "starid", begin with the command's path, a word matching
// when it is one of the "|"-separated alternatives of the span's word in that
// place: `data stats|grid|synth DIR` names "data", "data stats", "data grid"
// and "data synth". A heading naming a command (### enroll) makes every block
// up to the next heading part of that command's text. A flag is documented
// when "--name", not followed by a letter, digit or dash, appears in a block
// of its command's text: in its row of the command table, in its section, or
// in any sentence that names it (`--workers N` (`train`, `eval`, ...)).
func TestCLIDocCoversCommands(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := docBlocks(string(doc))
	walkVisible(newRoot(io.Discard, io.Discard), func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		var text []string
		for _, b := range blocks {
			if b.names(path) {
				text = append(text, b.text)
			}
		}
		if len(path) > 0 && len(text) == 0 {
			t.Errorf("docs/cli.md never names the command %q (%s)", strings.Join(path, " "), c.Short)
			return
		}
		joined := strings.Join(text, "\n")
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !flagMention(f.Name).MatchString(joined) {
				t.Errorf("docs/cli.md does not document %s --%s (%s) in a row, section or sentence naming the command",
					c.CommandPath(), f.Name, f.Usage)
			}
		})
	})
}

// TestCLIDocRuleCatches checks the rule itself on a made-up doc, so that the
// coverage test cannot pass by matching everything.
func TestCLIDocRuleCatches(t *testing.T) {
	doc := "## Commands\n\n| `train DIR --model NAME` | trains |\n| `data stats\\|grid DIR` | looks, `--json` |\n\n" +
		"### enroll\n\n```\nstarid enroll NAME --strict\n```\n\n| `--list` | lists |\n\n## JSON\n\n`predict --json` prints --topper\n"
	blocks := docBlocks(doc)
	text := func(path ...string) string {
		var s []string
		for _, b := range blocks {
			if b.names(path) {
				s = append(s, b.text)
			}
		}
		return strings.Join(s, "\n")
	}
	for _, c := range []struct {
		path []string
		flag string
		want bool
	}{
		{[]string{"train"}, "model", true},
		{[]string{"train"}, "json", false},
		{[]string{"data", "grid"}, "json", true},
		{[]string{"data", "synth"}, "json", false},
		{[]string{"enroll"}, "strict", true},
		{[]string{"enroll"}, "list", true},
		{[]string{"predict"}, "json", true},
		{[]string{"predict"}, "top", false},
		{[]string{"predict"}, "list", false},
	} {
		if got := flagMention(c.flag).MatchString(text(c.path...)); got != c.want {
			t.Errorf("%v --%s documented = %v, want %v", c.path, c.flag, got, c.want)
		}
	}
}

// walkVisible calls fn for c and every descendant not hidden; a hidden
// command's children are skipped with it (cobra's __complete and the like).
func walkVisible(c *cobra.Command, fn func(*cobra.Command)) {
	if c.Hidden {
		return
	}
	fn(c)
	for _, sub := range c.Commands() {
		walkVisible(sub, fn)
	}
}

func flagMention(name string) *regexp.Regexp {
	return regexp.MustCompile(`--` + regexp.QuoteMeta(name) + `([^A-Za-z0-9-]|$)`)
}

// docBlock is one unit of docs/cli.md: its text, the command-like spans it
// holds and the heading it sits under.
type docBlock struct {
	text    string
	spans   []string
	heading string
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// names reports whether the block, or its heading, names the command path.
func (b docBlock) names(path []string) bool {
	if spanNames(b.heading, path) {
		return true
	}
	for _, s := range b.spans {
		if spanNames(s, path) {
			return true
		}
	}
	return false
}

// spanNames reports whether a code span's words begin with path, each word
// matching one of the alternatives ("a|b") in its place.
func spanNames(span string, path []string) bool {
	words := strings.Fields(span)
	if len(words) > 0 && words[0] == "starid" {
		words = words[1:]
	}
	if len(path) == 0 || len(words) < len(path) {
		return false
	}
	for i, p := range path {
		found := false
		for _, alt := range strings.Split(words[i], "|") {
			if alt == p {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// docBlocks cuts a Markdown text into table rows, list items, paragraphs
// and code lines, each remembering the heading above it.
func docBlocks(doc string) []docBlock {
	var (
		blocks  []docBlock
		cur     []string
		heading string
		fenced  bool
	)
	flush := func() {
		if len(cur) > 0 {
			text := strings.Join(cur, "\n")
			var spans []string
			for _, m := range codeSpan.FindAllStringSubmatch(text, -1) {
				// A "|" inside a table cell is written "\|".
				spans = append(spans, strings.ReplaceAll(m[1], `\|`, "|"))
			}
			blocks = append(blocks, docBlock{text: text, spans: spans, heading: heading})
		}
		cur = nil
	}
	for _, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			flush()
			fenced = !fenced
		case fenced:
			blocks = append(blocks, docBlock{text: trimmed, spans: []string{trimmed}, heading: heading})
		case strings.HasPrefix(trimmed, "#"):
			flush()
			heading = strings.ReplaceAll(strings.TrimLeft(trimmed, "# "), "`", "")
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "|"), strings.HasPrefix(line, "- "):
			flush()
			cur = append(cur, line)
			if strings.HasPrefix(trimmed, "|") {
				flush()
			}
		default:
			cur = append(cur, line)
		}
	}
	flush()
	return blocks
}

// TestReadmeExamplesParse keeps the README's command examples (the
// bin/starid lines of its fenced blocks) usable: each must name a runnable
// command and get through flag parsing (run with --help appended, exit 0).
// The examples' notation is read as a reader would: "[...]" is optional and
// tried with its contents, "a|b" (inside brackets too) takes its first
// choice, a line of "--x | --y" alternatives is tried once per choice, and
// the placeholder N stands for a number.
func TestReadmeExamplesParse(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range docBlocks(string(readme)) {
		if !strings.HasPrefix(b.text, "bin/starid ") || len(b.spans) != 1 || b.spans[0] != b.text {
			continue // only code lines
		}
		for _, args := range exampleArgs(b.text) {
			n++
			c, rest, err := newRoot(io.Discard, io.Discard).Find(args)
			if err != nil || !c.Runnable() {
				t.Errorf("README example %q: %v names no runnable command", b.text, args)
				continue
			}
			// --help skips the argument checks, and a mistyped sub-command
			// passes as its parent's argument, so check both here.
			if err := c.ParseFlags(rest); err == nil {
				pos := c.Flags().Args()
				if err := c.ValidateArgs(pos); err != nil {
					t.Errorf("README example %q: starid %s: %v", b.text, strings.Join(args, " "), err)
				} else if c.HasSubCommands() && len(pos) > 0 {
					t.Errorf("README example %q: %s has no sub-command %q", b.text, c.CommandPath(), pos[0])
				}
			}
			if code, _, stderr := runCLI(append(args, "--help")...); code != exitOK {
				t.Errorf("README example %q: starid %s --help: exit %d: %s", b.text, strings.Join(args, " "), code, stderr)
			}
		}
	}
	t.Logf("%d example command lines", n)
	if n < 10 {
		t.Fatalf("found only %d README examples: has the README's layout changed?", n)
	}
}

// exampleArgs turns one README example line into the argument lists it
// stands for.
func exampleArgs(line string) [][]string {
	var words []string
	for _, w := range shellWords(line)[1:] {
		if w == "#" || strings.HasPrefix(w, "#") {
			break
		}
		words = append(words, w)
	}
	// Inside brackets, keep the first of "a | b"; outside, "|" separates
	// whole alternatives of the line's flags.
	var segs [][]string
	cur, depth, skip := []string{}, 0, false
	for _, w := range words {
		opens, closes := strings.HasPrefix(w, "["), strings.HasSuffix(w, "]")
		if opens {
			depth++
		}
		switch {
		case w == "|" && depth > 0:
			skip = true
		case w == "|":
			segs, cur = append(segs, cur), []string{}
		case !skip:
			w = strings.Trim(w, "[]")
			if i := strings.Index(w, "|"); i > 0 {
				w = w[:i]
			}
			if w == "N" {
				w = "1"
			}
			cur = append(cur, w)
		}
		if closes && depth > 0 {
			depth--
			skip = false
		}
	}
	segs = append(segs, cur)
	if len(segs) == 1 {
		return segs
	}
	// The words before the first flag are the command and its arguments,
	// shared by every alternative.
	first := segs[0]
	base := first
	for i, w := range first {
		if strings.HasPrefix(w, "--") {
			base, segs[0] = first[:i], first[i:]
			break
		}
	}
	var out [][]string
	for _, s := range segs {
		out = append(out, append(append([]string{}, base...), s...))
	}
	return out
}

// shellWords splits a line into words, keeping double-quoted text whole (the
// README's examples quote only with double quotes and never escape; too
// little to take on a shell-parsing module for).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
