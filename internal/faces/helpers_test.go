package faces

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"starid/internal/data"
)

// concurrently calls fn(0), ..., fn(n-1) on n goroutines at once and
// reports every error: the nets lend private copies from a pool, and a
// copy handed to two calls would mix their activations.
func concurrently(t *testing.T, n int, fn func(k int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = fn(k)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// modelDirOrSkip is the fetched models folder, or skips the test with how
// to get it.
func modelDirOrSkip(t testing.TB) string {
	t.Helper()
	dir, err := ModelDir()
	if err != nil {
		t.Skipf("skipping: needs the face-api weights (run `starid models fetch`): %v", err)
	}
	return dir
}

// loadReal loads a net with load from the fetched models folder, or skips
// the test; it returns the net and the folder.
func loadReal[T any](t testing.TB, load func(modelDir string) (T, error)) (T, string) {
	t.Helper()
	dir := modelDirOrSkip(t)
	m, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// loadPhoto decodes a photo the way the golden generator's pixels were
// produced (data.DecodeFile, EXIF applied).
func loadPhoto(t testing.TB, path string) *Image {
	t.Helper()
	rgba, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	return FromImage(rgba)
}

// readGolden decodes testdata/golden.json (face-api's own outputs, made by
// scripts/dev/faceapi/golden.sh) into v, which names the part a test needs.
func readGolden(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("skipping: testdata/golden.json is not there yet (scripts/dev/faceapi/golden.mjs makes it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("testdata/golden.json: %v", err)
	}
}

// goldenPattern is the golden file's generated input: an S x S image with
// v(x, y, c) = (7x + 13y + 29c) mod 256.
func goldenPattern(s int) *Image {
	m := NewImage(s, s)
	for y := range s {
		for x := range s {
			for c := range 3 {
				m.Pix[(y*s+x)*3+c] = float32((x*7 + y*13 + c*29) % 256)
			}
		}
	}
	return m
}
