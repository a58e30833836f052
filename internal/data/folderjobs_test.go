package data

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/cli"
)

func TestFolderJobs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shapes")
	if err := SynthFolder(dir, 2, 2, 16, 1); err != nil {
		t.Fatal(err)
	}
	var text, js strings.Builder
	if err := WriteStats(&text, dir, 1, false, false); err != nil || !strings.Contains(text.String(), "4 images in 2 classes") {
		t.Errorf("text stats: %v\n%s", err, text.String())
	}
	if err := WriteStats(&js, dir, 1, true, true); err != nil || !strings.HasPrefix(js.String(), "{\n  ") {
		t.Errorf("JSON stats: %v\n%s", err, js.String())
	}
	imgs, labels, err := GridFor(dir, "", 2, 1, filepath.Join(t.TempDir(), "g.png"), func(string) {})
	if err != nil || len(imgs) != 2 || len(labels) != 2 {
		t.Errorf("grid: %d images, %v, %v", len(imgs), labels, err)
	}
	photo := filepath.Join(dir, labels[0])
	ents, _ := os.ReadDir(photo)
	gridErr := func(cols, rows int, out string) error {
		_, _, err := GridFor(dir, "", cols, rows, out, func(string) {})
		return err
	}
	for _, err := range []error{
		WriteStats(&text, dir, 0, false, false),
		gridErr(0, 1, "g.png"),
		gridErr(1, MaxGridSide+1, "g.png"),
		gridErr(1, 1, ""),
		gridErr(2, 1, filepath.Join(photo, ents[0].Name())),
		SynthFolder(filepath.Join(t.TempDir(), "one"), 1, 2, 16, 1),
	} {
		if !errors.As(err, new(cli.UsageError)) {
			t.Errorf("%v: not a usage error", err)
		}
	}
	if err := SynthFolder(dir, 2, 2, 16, 1); err == nil || errors.As(err, new(cli.UsageError)) {
		t.Errorf("a full folder: %v, want an input error", err)
	}
}
