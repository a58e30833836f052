package identify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"starid/internal/faces"
	"starid/internal/identify/identifytest"
	"starid/internal/runs"
)

// barrier holds every Faces call until calls have been made in all, so
// that concurrent enrolls are all past their first reading of the run
// before either writes: the interleaving that lost a person.
type barrier struct {
	identifytest.Fake
	mu    sync.Mutex
	n     int
	calls int
	open  chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, open: make(chan struct{})} }

func (b *barrier) Faces(img *faces.Image) ([]faces.Face, error) {
	b.mu.Lock()
	b.calls++
	if b.calls == b.n {
		close(b.open)
	}
	b.mu.Unlock()
	select {
	case <-b.open:
	case <-time.After(20 * time.Second):
	}
	return b.Fake.Faces(img)
}

// enrollShots writes n photos of person p.
func enrollShots(t *testing.T, p, n int) []string {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(p), 9))
	var shots []string
	for i := range n {
		path := filepath.Join(dir, fmt.Sprintf("p%d-%d.png", p, i))
		must(t, identifytest.WritePhoto(path, 64, 48, identifytest.RandomFace(r, p)))
		shots = append(shots, path)
	}
	return shots
}

func faceRun(t *testing.T) string {
	run := filepath.Join(t.TempDir(), "run")
	if _, err := Train(context.Background(), trainConfig(makeFolder(t, people[:3], 6), run, nil), &identifytest.Fake{}, runs.Output{}); err != nil {
		t.Fatal(err)
	}
	return run
}

// Two enrolls of different people at once must both end up in the model
// (issue 17, row 3: each used to write a head without the other).
func TestConcurrentEnrollsBothLand(t *testing.T) {
	run := faceRun(t)
	d := newBarrier(2) // one call of each enroll: both have read the run
	opt := EnrollOptions{Workers: 1, PipelineVersion: "test-1"}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for k, who := range []string{"Dee", "Eve"} {
		shots := enrollShots(t, 3+k, 2)
		wg.Go(func() { _, errs[k] = Enroll(context.Background(), run, who, shots, d, opt) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	after, err := OpenFaceRun(run)
	must(t, err)
	slices.Sort(after.Info.Classes)
	if !slices.Equal(after.Info.Classes, []string{"Ann", "Bob", "Cid", "Dee", "Eve"}) || len(after.Face.Enrolled) != 2 {
		t.Fatalf("after two concurrent enrolls the run knows %v (enrolled %d), want both new people", after.Info.Classes, len(after.Face.Enrolled))
	}
	for p, who := range map[int]string{3: "Dee", 4: "Eve"} {
		if a := after.Model.Identify(identifytest.Descriptor(p, 120, 140), after.Rule(), 3); a.Name != who {
			t.Errorf("%s is recognised as %q", who, a.Name)
		}
	}
}

// A held run folder makes enroll wait, then say who holds it; train
// refuses at once.
func TestRunLockNamesItsHolder(t *testing.T) {
	run := faceRun(t)
	lock, err := runs.LockRun(run, "starid train --resume", 0, nil)
	must(t, err)
	var told string
	opt := EnrollOptions{PipelineVersion: "test-1", Wait: 300 * time.Millisecond, Waiting: func(h string) { told = h }}
	_, err = Enroll(context.Background(), run, "Dee", enrollShots(t, 3, 1), &identifytest.Fake{}, opt)
	want := fmt.Sprintf("in use by pid %d (starid train --resume, since ", os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(told, "starid train --resume") {
		t.Errorf("enroll beside a held lock: %v (told %q), want %q", err, told, want)
	}
	lock.Unlock()
	if _, err := Enroll(context.Background(), run, "Dee", enrollShots(t, 3, 1), &identifytest.Fake{}, opt); err != nil {
		t.Errorf("enroll after the lock was released: %v", err)
	}
}

func TestEnrollNames(t *testing.T) {
	run := faceRun(t)
	opt := EnrollOptions{PipelineVersion: "test-1"}
	shots := enrollShots(t, 3, 2)
	for who, want := range map[string]string{
		"Tom\u200bHanks": "invisible",
		"Tom\u00a0Hanks": "invisible",
		"Tom  Hanks":     "two spaces",
		"ann":            `already knows "Ann"`,
		"ＡＮＮ":            `already knows "Ann"`,
		"Tom\tHanks":     "control",
	} {
		if _, err := Enroll(context.Background(), run, who, shots, &identifytest.Fake{}, opt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("enroll %q: %v, want %q", who, err, want)
		}
	}
	// An accent typed as a combining mark is stored composed, so both
	// spellings are one person. (Two photos: the same one again would be
	// refused as enrolled already.)
	res, err := Enroll(context.Background(), run, "Zoe\u0301", shots[:1], &identifytest.Fake{}, opt)
	must(t, err)
	res2, err := Enroll(context.Background(), run, "Zo\u00e9", shots[1:], &identifytest.Fake{}, opt)
	must(t, err)
	if res.Name != "Zo\u00e9" || res2.New || res2.Classes != 4 {
		t.Errorf("decomposed then composed name: %+v then %+v", res, res2)
	}
}

// kill -9 before the first checkpoint leaves train.log, split.json, the
// lock and a temporary file: the same command must work again (row 9).
func TestFaceRunAfterKillStartsAgain(t *testing.T) {
	photos := makeFolder(t, people[:3], 6)
	run := filepath.Join(t.TempDir(), "run")
	must(t, os.MkdirAll(run, 0o755))
	for _, f := range []string{runs.LogFile, runs.SplitFile, runs.LockFile, ".best.safetensors.tmp-1234"} {
		must(t, os.WriteFile(filepath.Join(run, f), []byte("left by a killed run\n"), 0o644))
	}
	var stderr strings.Builder
	if _, err := Train(context.Background(), trainConfig(photos, run, nil), &identifytest.Fake{}, runs.Output{Stderr: &stderr}); err != nil {
		t.Fatalf("rerun after a kill: %v", err)
	}
	if !strings.Contains(stderr.String(), "never completed an epoch") {
		t.Errorf("no note that the old start was replaced:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(run, ".best.safetensors.tmp-1234")); err == nil {
		t.Error("the killed run's temporary file is still there")
	}
	if _, err := OpenFaceRun(run); err != nil {
		t.Error(err)
	}
	// A finished run is not taken over.
	if _, err := Train(context.Background(), trainConfig(photos, run, nil), &identifytest.Fake{}, runs.Output{}); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Errorf("second run over a finished one: %v", err)
	}
}

// Ctrl-C says "interrupted" and what to do, and leaves nothing behind.
func TestFaceRunInterrupted(t *testing.T) {
	photos := makeFolder(t, people[:3], 6)
	run := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Train(ctx, trainConfig(photos, run, nil), &identifytest.Fake{}, runs.Output{})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "interrupted") || strings.Contains(err.Error(), "context canceled") ||
		!strings.Contains(err.Error(), "run the same command again") {
		t.Errorf("interrupted face run: %v", err)
	}
	if _, serr := os.Stat(run); serr == nil {
		t.Errorf("the interrupted run left %s", run)
	}
}

// A cache that cannot be written (a full disk) gives one summary line, not
// one long warning per photo; a killed writer's temporary file is cleaned.
func TestCacheTroubleIsSummedUp(t *testing.T) {
	photos := enrollShots(t, 1, 5)
	blocker := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(blocker, nil, 0o644))
	c := &Cache{Dir: filepath.Join(blocker, "cache"), Version: "test-1"} // under a file: every write fails
	var notes []string
	_, st, err := Describe(context.Background(), &identifytest.Fake{}, photos, nil,
		DescribeOptions{Cache: c, Note: func(m string) { notes = append(notes, m) }})
	must(t, err)
	if st.CacheErrs != 5 || len(notes) != 1 || !strings.Contains(notes[0], "5 of 5 descriptors could not be written") ||
		strings.Contains(notes[0], ".tmp-") || len(notes[0]) > 250 {
		t.Errorf("cache errors %d, notes %q", st.CacheErrs, notes)
	}

	good := testCache(t)
	sub := filepath.Join(good.Dir, "ab")
	must(t, os.MkdirAll(sub, 0o755))
	stale := filepath.Join(sub, ".abcd.json.tmp-77")
	must(t, os.WriteFile(stale, []byte("{"), 0o644))
	old := time.Now().Add(-2 * time.Hour)
	must(t, os.Chtimes(stale, old, old))
	fresh := filepath.Join(sub, ".abce.json.tmp-78")
	must(t, os.WriteFile(fresh, []byte("{"), 0o644))
	if _, _, err := Describe(context.Background(), &identifytest.Fake{}, photos[:1], nil, DescribeOptions{Cache: good}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("an hours-old temporary file is still in the cache")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file (a live writer's) was removed")
	}
}

// A face run's commands read photos through the bounded reader: a device
// or a FIFO is an error naming it, not 24 GB or a hang (row 4).
func TestDescribeRefusesDevicesAndFIFOs(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "x.jpg")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no named pipes:", err)
	}
	done := make(chan []Photo)
	go func() {
		got, _, _ := Describe(context.Background(), &identifytest.Fake{}, []string{"/dev/zero", fifo}, nil, DescribeOptions{})
		done <- got
	}()
	select {
	case got := <-done:
		for i, want := range []string{"/dev/zero: not a regular file (character device)", fifo + ": not a regular file (named pipe)"} {
			if got[i].Err == nil || got[i].Err.Error() != want {
				t.Errorf("%s: %v, want %q", got[i].Path, got[i].Err, want)
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Describe blocks on a device or FIFO")
	}
}
