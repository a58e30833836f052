package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	throttle = 0 // every step drawn, so the tests see each one
	os.Exit(m.Run())
}

func TestNotATerminalDrawsNothing(t *testing.T) {
	var buf bytes.Buffer
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, out := range map[string]interface {
		Write([]byte) (int, error)
	}{"buffer": &buf, "file": f, "pipe": w} {
		if IsTerminal(out) {
			t.Errorf("%s: IsTerminal says yes", name)
		}
		b := New(out, 10, "describing")
		if b != nil {
			t.Errorf("%s: New gave a bar", name)
		}
		// Everything a caller does with the nil bar is harmless.
		b.Add(3)
		b.Set(4, 10)
		b.Describe("x")
		if fn := b.Func(); fn != nil {
			t.Errorf("%s: a nil bar's Func is not nil", name)
		}
		if got := b.Writer(out); got != out {
			t.Errorf("%s: a nil bar's Writer is not the writer itself", name)
		}
		b.Finish()
	}
	if buf.Len() != 0 {
		t.Errorf("buffer got %q", buf.String())
	}
	if fi, _ := f.Stat(); fi.Size() != 0 {
		t.Errorf("file got %d bytes", fi.Size())
	}
}

func TestTerminalDrawsCountAndETA(t *testing.T) {
	var buf bytes.Buffer
	b := NewTerminal(&buf, 10, "describing faces")
	b.Add(3)
	out := buf.String()
	for _, want := range []string{"describing faces", "3/10", "30%"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar %q lacks %q", out, want)
		}
	}
	// The ETA bracket: elapsed:left.
	if !strings.Contains(out, ":") || !strings.Contains(out, "[") {
		t.Errorf("bar %q shows no time estimate", out)
	}
}

// A round that completes is erased, and a smaller done starts a new
// round with its own count (a training run's epochs).
func TestRounds(t *testing.T) {
	var buf bytes.Buffer
	b := NewTerminal(&buf, 0, "epoch")
	f := b.Func()
	f(0, 4)
	f(2, 4)
	if !strings.Contains(buf.String(), "2/4") {
		t.Fatalf("bar %q lacks 2/4", buf.String())
	}
	f(4, 4)
	if !strings.HasSuffix(buf.String(), "\r") {
		t.Errorf("a finished round was not erased: %q", buf.String())
	}
	buf.Reset()
	f(1, 4)
	if !strings.Contains(buf.String(), "1/4") {
		t.Errorf("the second round shows %q, want 1/4", buf.String())
	}
}

// A message written through Writer erases the bar first, so it starts at
// the beginning of the line; after Finish nothing more is drawn.
func TestWriterAndFinish(t *testing.T) {
	var term, msgs bytes.Buffer
	b := NewTerminal(&term, 10, "work")
	b.Add(5)
	drawn := term.Len()
	w := b.Writer(&term)
	if _, err := w.Write([]byte("note\n")); err != nil {
		t.Fatal(err)
	}
	out := term.String()
	i := strings.LastIndex(out, "\r")
	if i < drawn || out[i+1:] != "note\n" {
		t.Errorf("the message did not follow an erase: %q", out)
	}
	b.Writer(&msgs).Write([]byte("x"))
	if msgs.String() != "x" {
		t.Errorf("the wrapped writer got %q", msgs.String())
	}
	b.Finish()
	n := term.Len()
	b.Add(1)
	b.Set(7, 10)
	b.Finish()
	if term.Len() != n {
		t.Errorf("a finished bar drew %q", term.String()[n:])
	}
}
