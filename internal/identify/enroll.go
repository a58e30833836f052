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

	"starid/internal/atomicfile"
	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/optim"
	"starid/internal/runs"
)

// EnrollResult says what Enroll did.
type EnrollResult struct {
	Name    string
	New     bool // a new class
	Added   int  // descriptors added
	Total   int  // training descriptors of this person now
	Classes int  // classes of the run now
	Stats   Stats
	// Used are the photos enrolled; Skipped those left out, with why.
	Used    []string
	Skipped []data.Skipped
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
	// Strict refuses the whole batch when any photo cannot be used,
	// instead of enrolling the person from the others.
	Strict bool
}

// DefaultLockWait is how long an enroll waits for the run folder. Another
// enroll holds it for about a second (its photos are described before it
// takes the lock), so only a training or a stuck process waits this long.
const DefaultLockWait = 2 * time.Minute

// UnclearFaceRatio decides when a photo with several faces is refused for
// enrolment: when another face covers at least this share of the main
// face's area (0.6 of its width), which of them the photo is about is a
// guess (a group photo), and enrolling the wrong one would teach the run a
// wrong name. The detector's score does not enter: in group photos it
// ranges over 0.56-0.9 for faces of similar size. A small face in the
// background leaves no doubt. 14 of celebrity17's 1,370 photos are refused
// by this rule, and all six group photos of face-api's samples.
const UnclearFaceRatio = 0.36

// BatchError is Enroll's refusal of a batch of photos: none could be used,
// or (Strict) some could not.
type BatchError struct {
	Name    string
	Total   int // photos given
	Skipped []data.Skipped
	Strict  bool
}

func (e *BatchError) Error() string {
	var b strings.Builder
	if e.Strict {
		fmt.Fprintf(&b, "nothing enrolled: %d of the %d photo(s) of %q cannot be used, and strict mode wants every one:",
			len(e.Skipped), e.Total, e.Name)
	} else {
		fmt.Fprintf(&b, "nothing enrolled: none of the %d photo(s) of %q can be used:", e.Total, e.Name)
	}
	for _, s := range e.Skipped {
		fmt.Fprintf(&b, "\n\t%s: %s", data.ShowPath(s.Path), s.Reason)
	}
	return b.String()
}

// Enroll adds photos of name to the face run in dir: the main face of each
// photo is described, the person becomes a new class or gets more training
// descriptors, the centroids are recomputed and the head is refitted on
// the stored plus new descriptors with the run's own settings (the
// descriptor network is untouched; this takes a second). The unknown rule
// is kept. best.safetensors is replaced atomically first, then model.json
// records the class list and the enrollment, and train.log gets a line.
//
// Photos that cannot be used are left out and listed in the result:
// unreadable ones, those without a face, those whose main face is unclear
// (UnclearFaceRatio), repeats of a photo already in the batch, and those
// whose face the run already names as someone else (with the distance).
// The person is enrolled from the rest; a *BatchError refuses the batch
// when nothing is left, or in opt.Strict mode when anything was left out.
//
// Enrolls run concurrently: the photos are described first, then Enroll
// takes the run's lock (waiting up to opt.Wait for another writer) and
// reads the run again under it, so that each enroll refits the head on
// what the one before it wrote and no person is lost. A name that differs
// from a known one only in case, spacing or Unicode form is refused,
// naming the known one.
func Enroll(ctx context.Context, dir, name string, photos []string, d Describer, opt EnrollOptions) (*EnrollResult, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	name = NormalizeName(name)
	if len(photos) == 0 {
		return nil, errors.New("no photos given")
	}
	// Opened first only to fail early, before the photos are described.
	if _, err := openForEnroll(dir, name, opt); err != nil {
		return nil, err
	}
	b, st, err := describeForEnroll(ctx, d, name, photos, opt)
	if err != nil {
		return nil, err
	}
	if err := b.check(opt.Strict); err != nil {
		return nil, err
	}
	lock, err := lockRun(dir, "starid enroll "+strconv.Quote(name), opt)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	run, err := openForEnroll(dir, name, opt)
	if err != nil {
		return nil, err
	}
	b.dropOthers(run, name)
	b.dropEnrolled(run)
	if err := b.check(opt.Strict); err != nil {
		return nil, err
	}
	return enrollLocked(ctx, run, name, b, st, opt.Now)
}

// lockRun takes dir's writer lock for command, waiting as opt says, and
// clears what a killed writer left.
func lockRun(dir, command string, opt EnrollOptions) (*runs.RunLock, error) {
	wait := opt.Wait
	if wait <= 0 {
		wait = DefaultLockWait
	}
	lock, err := runs.LockRun(dir, command, wait, opt.Waiting)
	if err != nil {
		return nil, err
	}
	// Under the lock no one else writes here: a temporary file is what a
	// killed writer left.
	atomicfile.CleanStale(dir, 0)
	return lock, nil
}

// openForEnroll opens the run and checks that name can be enrolled in it.
func openForEnroll(dir, name string, opt EnrollOptions) (*FaceRun, error) {
	run, err := openForChange(dir, opt)
	if err != nil {
		return nil, err
	}
	if known := lookAlike(run.Model.Classes, name); known != "" {
		return nil, fmt.Errorf("name %q: the run already knows %q, which differs only in case, spacing or character forms; "+
			"give exactly %q to add photos of that person, or a clearly different name", name, known, known)
	}
	return run, nil
}

// openForChange opens a face run whose head can be refitted.
func openForChange(dir string, opt EnrollOptions) (*FaceRun, error) {
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
	return run, nil
}

// batch is the photos of one enroll: those kept, with their main face's
// descriptor, and those left out.
type batch struct {
	name    string
	total   int
	used    []string
	desc    [][]float32
	skipped []data.Skipped
}

func (b *batch) skip(path, reason string) {
	b.skipped = append(b.skipped, data.Skipped{Path: path, Reason: reason})
}

// check refuses the batch when nothing is left, or when strict and
// anything was left out.
func (b *batch) check(strict bool) error {
	if len(b.used) == 0 || strict && len(b.skipped) > 0 {
		return &BatchError{Name: b.name, Total: b.total, Skipped: slices.Clone(b.skipped), Strict: strict && len(b.used) > 0}
	}
	return nil
}

// describeForEnroll describes the photos and keeps each one's main face;
// only a describer that cannot load (or ctx) is an error.
func describeForEnroll(ctx context.Context, d Describer, name string, photos []string, opt EnrollOptions) (*batch, Stats, error) {
	got, st, err := Describe(ctx, d, photos, nil, DescribeOptions{Cache: opt.Cache, Workers: opt.Workers})
	if err != nil {
		return nil, st, err
	}
	b := &batch{name: name, total: len(photos)}
	seen := map[string]string{}
	for _, p := range got {
		if p.Err != nil {
			if le := (*LoadError)(nil); errors.As(p.Err, &le) {
				return nil, st, le
			}
			b.skip(p.Path, "unreadable: "+reason(p.Err))
			continue
		}
		if first, ok := seen[p.Key]; ok {
			b.skip(p.Path, "the same photo as "+data.ShowPath(first))
			continue
		}
		seen[p.Key] = p.Path
		f, why := enrollFace(p.Faces)
		if f == nil {
			b.skip(p.Path, why)
			continue
		}
		b.used = append(b.used, p.Path)
		b.desc = append(b.desc, f.Descriptor)
	}
	return b, st, nil
}

// enrollFace is the face a photo shows of the person being enrolled, or
// nil and why there is none: no face, or several faces of which none is
// clearly the main one.
func enrollFace(fs []faces.Face) (*faces.Face, string) {
	i := faces.MainFace(fs)
	if i < 0 {
		return nil, "no face found"
	}
	rivals := 0
	for j, f := range fs {
		if j != i && f.Box.Area() >= UnclearFaceRatio*fs[i].Box.Area() {
			rivals++
		}
	}
	if rivals > 0 {
		return nil, fmt.Sprintf("%d faces of similar size, so whose photo it is is unclear; crop it to the person's face", rivals+1)
	}
	return &fs[i], ""
}

// dropOthers leaves out the faces the run already names as someone other
// than name: most likely a wrong photo, which would blur both people. The
// unknown rule alone is eager for people who look alike (and in runs whose
// classes have few photos), so when the batch has at least three faces and
// does not as a whole look like someone else, a face the rule gives to
// another person is kept if it is nearer the rest of the batch than that
// person's centroid.
// sameDescriptor is the distance under which two descriptors come from
// one photo: the pipeline is deterministic, so a photo described again
// gives its descriptor back to float precision, while two different
// photos, even of one person in one pose, lie 0.1 and more apart.
const sameDescriptor = 1e-3

// dropEnrolled leaves out the photos the run holds already (enrolled
// before): a repeat would count the photo twice and weigh it double.
func (b *batch) dropEnrolled(run *FaceRun) {
	m := run.Model
	used, desc := b.used[:0:0], b.desc[:0:0]
	for i, v := range b.desc {
		j := slices.IndexFunc(m.Train, func(t []float32) bool { return faces.Distance(v, t) < sameDescriptor })
		if j >= 0 && j < len(m.Labels) {
			b.skip(b.used[i], fmt.Sprintf("already enrolled as %q", m.Classes[m.Labels[j]]))
			continue
		}
		used, desc = append(used, b.used[i]), append(desc, v)
	}
	b.used, b.desc = used, desc
}

func (b *batch) dropOthers(run *FaceRun, name string) {
	rule := run.Rule()
	m := run.Model
	other := func(a Answer) bool { return a.Class != eval.Unknown && a.Name != name }
	consensus := len(b.desc) >= 3 && !other(m.Identify(mean(b.desc, -1), rule, 1))
	used, desc := b.used[:0:0], b.desc[:0:0]
	for i, v := range b.desc {
		a := m.Identify(v, rule, 1)
		if other(a) && !(consensus && faces.Distance(v, mean(b.desc, i)) < a.Distance) {
			b.skip(b.used[i], fmt.Sprintf("the run already names this face %q (distance %.3f, limit %.3f); is it the right photo?",
				a.Name, a.Distance, rule.MaxDistance))
			continue
		}
		used, desc = append(used, b.used[i]), append(desc, v)
	}
	b.used, b.desc = used, desc
}

// mean is the mean of the descriptors but the one at skip (-1: none).
func mean(x [][]float32, skip int) []float32 {
	sum := make([]float64, DescriptorLen)
	n := 0
	for i, v := range x {
		if i == skip {
			continue
		}
		n++
		for j, e := range v {
			sum[j] += float64(e)
		}
	}
	out := make([]float32, DescriptorLen)
	for j := range out {
		out[j] = float32(sum[j] / float64(max(n, 1)))
	}
	return out
}

// enrollLocked refits the head with the batch and writes the run; the
// caller holds the run's lock and read run under it.
func enrollLocked(ctx context.Context, run *FaceRun, name string, b *batch, st Stats, now func() time.Time) (*EnrollResult, error) {
	m := run.Model
	class := slices.Index(m.Classes, name)
	res := &EnrollResult{Name: name, New: class < 0, Added: len(b.desc), Stats: st, Used: b.used, Skipped: b.skipped}
	classes := slices.Clone(m.Classes)
	if class < 0 {
		class = len(classes)
		classes = append(classes, name)
	}
	res.Classes = len(classes)
	shown := make([]string, len(b.used))
	for i, p := range b.used {
		shown[i] = data.ShowPath(p)
	}
	line := fmt.Sprintf("enrolled %q (%s): %d photo(s): %s", name, map[bool]string{true: "new person", false: "more photos"}[res.New],
		len(b.used), strings.Join(shown, ", "))
	if len(b.skipped) > 0 {
		line += fmt.Sprintf("; %d left out", len(b.skipped))
	}
	nm, err := refitAndWrite(ctx, run, m, classes, class, b.desc, change{line: line, now: now, record: func(t string, f *FaceInfo) {
		f.Enrolled = append(f.Enrolled, Enrollment{Time: t, Name: name, New: res.New, Photos: slices.Clone(b.used)})
	}})
	if err != nil {
		return nil, err
	}
	res.Total = nm.count(class)
	return res, nil
}

// headConfig is the run's own head settings, or the defaults when they
// are missing or damaged.
func (r *FaceRun) headConfig() HeadConfig {
	c := r.Info.Config
	sched, err := optim.ParseSchedule(c.Schedule)
	if err != nil {
		sched = optim.Constant{}
	}
	hc := HeadConfig{Epochs: c.Epochs, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Momentum: c.Momentum,
		WeightDecay: c.WeightDecay, Schedule: sched, Seed: c.Seed}
	if hc.Epochs < 1 || hc.Batch < 1 || hc.Batch > runs.MaxBatch || !(hc.LR > 0) {
		hc = HeadConfig{Epochs: DefaultEpochs, Batch: 32, Optimizer: "adam", LR: DefaultLR, Seed: c.Seed}
	}
	return hc
}

// change is what a writer of a run records besides the new model: a
// train.log line, and an edit of model.json's face entry stamped with the
// time.
type change struct {
	line   string
	record func(t string, f *FaceInfo) // nil: no edit
	now    func() time.Time            // nil: time.Now
}

// refitAndWrite fits a new head over classes on base's descriptors (kept
// and summarized) plus add, all of class, with the run's settings, and
// writes it with writeChange.
func refitAndWrite(ctx context.Context, run *FaceRun, base *Model, classes []string, class int, add [][]float32, c change) (*Model, error) {
	hc := run.headConfig()
	nm, err := base.refit(ctx, classes, class, add, hc)
	if err != nil {
		return nil, err
	}
	return nm, writeChange(run, nm, hc.Epochs, c)
}

// writeChange stores a changed model in the run: best.safetensors first
// (atomically; it is authoritative for the class list), then model.json
// with record applied to its face entry, then a line in train.log. The
// caller holds the run's lock.
func writeChange(run *FaceRun, nm *Model, epochs int, c change) error {
	dir := run.Dir
	if err := nm.Save(filepath.Join(dir, runs.BestFile), run.Info.PipelineVersion, epochs); err != nil {
		return err
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	t := now().UTC().Format(time.RFC3339)
	run.Model = nm
	if c.record != nil {
		c.record(t, &run.Face)
	}
	if err := run.writeInfo(); err != nil {
		return fmt.Errorf("%s holds the new head but model.json was not updated: %w", filepath.Join(dir, runs.BestFile), err)
	}
	if f, err := os.OpenFile(filepath.Join(dir, runs.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "%s %s\n", t, c.line)
		f.Close()
	}
	return nil
}
