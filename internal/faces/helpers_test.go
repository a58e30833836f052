package faces

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"starid/internal/data"
	"starid/internal/tensor"
)

// randomWeights is a complete set of a net's tensors, in the order of
// specs, each filled by fill with the net's own random law: tests need no
// real weights, only the right names and shapes and values that keep the
// activations of order one.
func randomWeights(specs []tensorSpec, fill func(s tensorSpec, data []float32)) *Weights {
	w := &Weights{Tensors: map[string]*tensor.Tensor{}}
	for _, s := range specs {
		t := tensor.New(s.shape...)
		fill(s, t.Data)
		w.Names = append(w.Names, s.name)
		w.Tensors[s.name] = t
	}
	return w
}

// forwarder is a layer or a net part with the layers' Forward.
type forwarder interface {
	Forward(*tensor.Tensor) (*tensor.Tensor, error)
}

// forwardAll runs x through each part in turn and fails the test on an
// error.
func forwardAll(t *testing.T, x *tensor.Tensor, parts ...forwarder) *tensor.Tensor {
	t.Helper()
	for _, p := range parts {
		var err error
		if x, err = p.Forward(x); err != nil {
			t.Fatalf("%T: %v", p, err)
		}
	}
	return x
}

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
// scripts/dev/faceapi/golden.sh) as a T, which names the part a test needs.
func readGolden[T any](t *testing.T) *T {
	t.Helper()
	v := new(T)
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
	return v
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

// weightCase changes a complete set of fake weights; want is a substring
// of the error the net's constructor must then give ("" when it must
// accept the set).
type weightCase struct {
	name   string
	change func(w *Weights)
	want   string
}

// checkWeightChecks builds a net from fake weights changed by each case.
// An accepted set gives a net; a refused one an error with the case's
// words and the manifest's name, so a user knows which file is wrong. No
// weights at all are refused, with an error that says so.
func checkWeightChecks[N any](t *testing.T, manifest string, fake func(seed uint64) *Weights,
	build func(*Weights) (*N, error), cases []weightCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := fake(1)
			tc.change(w)
			n, err := build(w)
			if tc.want == "" {
				if err != nil || n == nil {
					t.Fatalf("%s: %v", manifest, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), manifest) {
				t.Fatalf("error %v, want one containing %q and naming %s", err, tc.want, manifest)
			}
		})
	}
	if n, err := build(nil); err == nil || n != nil || !strings.Contains(err.Error(), "no weights") {
		t.Errorf("%s: no weights gave %v, %v; want an error saying so", manifest, n, err)
	}
}

// withSecondLook runs a fixture through the pipeline without a second look
// (off) and with it (on). Without it the fixture must give wantOff faces,
// or the test no longer tests the look (named by look); with it, check
// judges the faces.
func withSecondLook(t *testing.T, look string, img *Image, off, on *Pipeline, wantOff int, check func([]Face)) {
	t.Helper()
	got, err := off.Faces(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("without %s: %d faces in the %dx%d image", look, len(got), img.W, img.H)
	if len(got) != wantOff {
		t.Fatalf("without %s %d faces were found, want %d: the fixture no longer needs it", look, len(got), wantOff)
	}
	if got, err = on.Faces(img); err != nil {
		t.Fatal(err)
	}
	t.Logf("with %s: %d faces in the %dx%d image", look, len(got), img.W, img.H)
	check(got)
}

// checkNearGolden holds a net's outputs to face-api's (the golden files):
// every value within 1e-4, a NaN never. Measured against TF.js 4.22 on
// the CPU the ports differ by 4e-7 at most; the rest is room for another
// summation order.
func checkNearGolden[F float32 | float64](t *testing.T, what string, got []F, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, golden %d", what, len(got), len(want))
	}
	worst, at := 0.0, 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if !(worst <= 1e-4) {
		t.Errorf("%s: output %d is %g, golden %g (|diff| %.3g > 1e-4)", what, at, got[at], want[at], worst)
		return
	}
	t.Logf("%s: max |starid - face-api| = %.2g", what, worst)
}
