package library

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// The store refuses the names the HTTP API refuses, so `starid people name`
// cannot store a newline (which splits the people listing) or a pasted
// paragraph; a padded name is stored trimmed.
func TestNameRefusesBadNames(t *testing.T) {
	ctx := context.Background()
	s := groupedLibrary(t, 6)
	people, err := s.People(ctx)
	if err != nil || len(people) == 0 {
		t.Fatalf("people: %v, %v", people, err)
	}
	id := people[0].ID
	for _, c := range []struct{ name, want string }{
		{"", "empty name"},
		{"  ", "empty name"},
		{"a\nb", "control characters"},
		{"a\x00b", "control characters"},
		{"\xff", "not valid UTF-8"},
		{strings.Repeat("x", MaxNameRunes+1), "longer than 200"},
	} {
		if err := s.Name(ctx, id, c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Name(%q): %v, want an error with %q", c.name, err, c.want)
		}
	}
	if err := s.Name(ctx, id, "  "+strings.Repeat("é", MaxNameRunes)+" "); err != nil {
		t.Fatalf("a %d-character name, padded: %v", MaxNameRunes, err)
	}
	after, err := s.People(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range after {
		if p.ID == id && p.Name != strings.Repeat("é", MaxNameRunes) {
			t.Fatalf("person %d is named %q", id, p.Name)
		}
	}
}

// A photo that vanished between the scan and its description is listed
// once by path with the reason, not "x.jpg: open x.jpg: no such file".
func TestVanishedPhotoReason(t *testing.T) {
	ix := &Indexer{Describer: &fakeDescriber{}}
	gone := filepath.Join(t.TempDir(), "gone.jpg")
	d, err := ix.describe(context.Background(), gone)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(d.err, fs.ErrNotExist) || strings.Contains(d.err.Error(), gone) || !strings.HasPrefix(d.err.Error(), "unreadable: ") {
		t.Fatalf("vanished photo: %v", d.err)
	}
}
