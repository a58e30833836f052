package identify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"starid/internal/atomicfile"
	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/optim"
	"starid/internal/runs"
)

// CheckName refuses names that cannot be a person's label: empty, padded
// with spaces or holding two in a row, holding control characters,
// invisible ones (a zero-width space would make "Tom Hanks" and a look-alike
// two people), other white space than the plain space, or path separators
// (a class is also a folder name for eval --data), too long, or the
// reserved "unknown". Callers store NormalizeName's form.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("the name is empty")
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8 text", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("name %q starts or ends with spaces", name)
	case strings.Contains(name, "  "):
		return fmt.Errorf("name %q has two spaces in a row", name)
	case len(name) > 100:
		return fmt.Errorf("name %q is longer than 100 bytes", name)
	case strings.EqualFold(name, eval.UnknownName):
		return fmt.Errorf("name %q is reserved for faces the model does not know", name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return fmt.Errorf("name %q: no slashes (names are also folder names)", name)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Errorf("name %q holds a control or invalid character", name)
		case unicode.In(r, unicode.Cf, unicode.Co, unicode.Cs) || !unicode.IsPrint(r) && r != ' ':
			return fmt.Errorf("name %q holds an invisible or unprintable character (U+%04X); type the name without it", name, r)
		}
	}
	return nil
}

// NormalizeName is the form a checked name is stored in: Unicode NFC, so
// that an accent typed as one character or as a letter plus a combining
// mark gives the same class.
func NormalizeName(name string) string { return norm.NFC.String(name) }

// sameName reports whether two names would be taken for the same person:
// equal after compatibility normalization and case folding ("jim carrey"
// and "Jim Carrey", a full-width "Ｊim" and "Jim").
func sameName(a, b string) bool {
	return strings.EqualFold(norm.NFKC.String(a), norm.NFKC.String(b))
}

// lookAlike is the class of names that sameName matches name without being
// equal to it, or "".
func lookAlike(classes []string, name string) string {
	for _, c := range classes {
		if c != name && sameName(c, name) {
			return c
		}
	}
	return ""
}

// EnrollResult says what Enroll did.
type EnrollResult struct {
	Name    string
	New     bool // a new class
	Added   int  // descriptors added
	Total   int  // training descriptors of this person now
	Classes int  // classes of the run now
	Stats   Stats
}

// EnrollOptions are Enroll's collaborators.
type EnrollOptions struct {
	Cache           *Cache
	Workers         int
	PipelineVersion string // "": faces.PipelineVersion is not checked
	Now             func() time.Time
	// Wait bounds how long Enroll waits for another writer of the run
	// (another enroll, a training) to finish: 0 means DefaultLockWait.
	// Waiting tells, once, who it waits for.
	Wait    time.Duration
	Waiting func(holder string)
}

// DefaultLockWait is how long an enroll waits for the run folder. Another
// enroll holds it for about a second (its photos are described before it
// takes the lock), so only a training or a stuck process waits this long.
const DefaultLockWait = 2 * time.Minute

// Enroll adds photos of name to the face run in dir: the largest face of
// each photo is described (every photo must have one: the error names
// those that do not), the person becomes a new class or gets more
// training descriptors, the centroids are recomputed and the head is
// refitted on the stored plus new descriptors with the run's own settings
// (the descriptor network is untouched; this takes a second). The unknown
// rule is kept. best.safetensors is replaced atomically first, then
// model.json records the class list and the enrollment, and train.log gets
// a line.
//
// Enrolls run concurrently: the photos are described first, then Enroll
// takes the run's lock (waiting up to opt.Wait for another writer) and
// reads the run again under it, so that each enroll refits the head on
// what the one before it wrote and no person is lost. A name that differs
// from a known one only in case or Unicode form is refused, naming the
// known one.
func Enroll(ctx context.Context, dir, name string, photos []string, d Describer, opt EnrollOptions) (*EnrollResult, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	name = NormalizeName(name)
	if len(photos) == 0 {
		return nil, errors.New("no photos given")
	}
	// Opened first only to fail early, before the photos are described.
	run, err := openForEnroll(dir, name, opt)
	if err != nil {
		return nil, err
	}
	add, st, err := describeForEnroll(ctx, d, photos, opt)
	if err != nil {
		return nil, err
	}
	wait := opt.Wait
	if wait <= 0 {
		wait = DefaultLockWait
	}
	lock, err := runs.LockRun(dir, "starid enroll "+strconv.Quote(name), wait, opt.Waiting)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	// Under the lock no one else writes here: a temporary file is what a
	// killed writer left.
	atomicfile.CleanStale(dir, 0)
	if run, err = openForEnroll(dir, name, opt); err != nil {
		return nil, err
	}
	return enrollLocked(ctx, run, name, photos, add, st, opt)
}

// openForEnroll opens the run and checks that name can be enrolled in it.
func openForEnroll(dir, name string, opt EnrollOptions) (*FaceRun, error) {
	run, err := OpenFaceRun(dir)
	if err != nil {
		return nil, err
	}
	if opt.PipelineVersion != "" {
		if err := run.CheckPipeline(opt.PipelineVersion); err != nil {
			return nil, err
		}
	}
	if len(run.Model.Train) == 0 && run.Model.Summary == nil {
		return nil, fmt.Errorf("%s: the run stores no training descriptors, so its head cannot be refitted", filepath.Join(dir, runs.BestFile))
	}
	if known := lookAlike(run.Model.Classes, name); known != "" {
		return nil, fmt.Errorf("name %q: the run already knows %q, which differs only in case or character forms; "+
			"give exactly %q to add photos of that person, or a clearly different name", name, known, known)
	}
	return run, nil
}

// describeForEnroll describes the photos; each must show a face.
func describeForEnroll(ctx context.Context, d Describer, photos []string, opt EnrollOptions) ([][]float32, Stats, error) {
	got, st, err := Describe(ctx, d, photos, nil, DescribeOptions{Cache: opt.Cache, Workers: opt.Workers})
	if err != nil {
		return nil, st, err
	}
	var bad []string
	var add [][]float32
	for _, p := range got {
		switch {
		case p.Err != nil:
			if le := (*LoadError)(nil); errors.As(p.Err, &le) {
				return nil, st, le
			}
			bad = append(bad, p.Err.Error())
		case len(p.Faces) == 0:
			bad = append(bad, data.ShowPath(p.Path)+": no face found")
		default:
			add = append(add, p.Largest().Descriptor)
		}
	}
	if len(bad) > 0 {
		return nil, st, fmt.Errorf("nothing enrolled; every photo needs a face:\n\t%s", strings.Join(bad, "\n\t"))
	}
	return add, st, nil
}

// enrollLocked refits the head with add and writes the run; the caller
// holds the run's lock and read run under it.
func enrollLocked(ctx context.Context, run *FaceRun, name string, photos []string, add [][]float32, st Stats, opt EnrollOptions) (*EnrollResult, error) {
	dir, m := run.Dir, run.Model
	class := slices.Index(m.Classes, name)
	res := &EnrollResult{Name: name, New: class < 0, Added: len(add), Stats: st}
	classes := slices.Clone(m.Classes)
	if class < 0 {
		class = len(classes)
		classes = append(classes, name)
	}
	c := run.Info.Config
	sched, err := optim.ParseSchedule(c.Schedule)
	if err != nil {
		sched = optim.Constant{}
	}
	hc := HeadConfig{Epochs: c.Epochs, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Momentum: c.Momentum,
		WeightDecay: c.WeightDecay, Schedule: sched, Seed: c.Seed}
	if hc.Epochs < 1 || hc.Batch < 1 || hc.Batch > runs.MaxBatch || !(hc.LR > 0) {
		hc = HeadConfig{Epochs: DefaultEpochs, Batch: 32, Optimizer: "adam", LR: DefaultLR, Seed: c.Seed}
	}
	nm, err := m.refit(ctx, classes, class, add, hc)
	if err != nil {
		return nil, err
	}
	res.Total = nm.count(class)
	res.Classes = len(classes)
	if err := nm.Save(filepath.Join(dir, runs.BestFile), run.Info.PipelineVersion, hc.Epochs); err != nil {
		return nil, err
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	t := now().UTC().Format(time.RFC3339)
	run.Model = nm
	run.Face.Enrolled = append(run.Face.Enrolled, Enrollment{Time: t, Name: name, New: res.New, Photos: slices.Clone(photos)})
	if err := run.writeInfo(); err != nil {
		return nil, fmt.Errorf("%s holds the new head but model.json was not updated: %w", filepath.Join(dir, runs.BestFile), err)
	}
	if f, err := os.OpenFile(filepath.Join(dir, runs.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		shown := make([]string, len(photos))
		for i, p := range photos {
			shown[i] = data.ShowPath(p)
		}
		fmt.Fprintf(f, "%s enrolled %q (%s): %d photo(s): %s\n", t, name, map[bool]string{true: "new person", false: "more photos"}[res.New],
			len(photos), strings.Join(shown, ", "))
		f.Close()
	}
	return res, nil
}
