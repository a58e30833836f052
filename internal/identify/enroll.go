package identify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"starid/internal/eval"
	"starid/internal/optim"
	"starid/internal/train"
)

// CheckName refuses names that cannot be a person's label: empty, padded
// with spaces, holding control characters or path separators (a class is
// also a folder name for eval --data), too long, or the reserved "unknown".
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("the name is empty")
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("name %q starts or ends with spaces", name)
	case len(name) > 100:
		return fmt.Errorf("name %q is longer than 100 bytes", name)
	case strings.EqualFold(name, eval.UnknownName):
		return fmt.Errorf("name %q is reserved for faces the model does not know", name)
	case strings.ContainsAny(name, `/\`) || name == "." || name == "..":
		return fmt.Errorf("name %q: no slashes (names are also folder names)", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("name %q holds a control or invalid character", name)
		}
	}
	return nil
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
}

// Enroll adds photos of name to the face run in dir: the largest face of
// each photo is described (every photo must have one: the error names
// those that do not), the person becomes a new class or gets more
// training descriptors, the centroids are recomputed and the head is
// refitted on the stored plus new descriptors with the run's own settings
// (the descriptor network is untouched; this takes a second). The unknown
// rule is kept. best.safetensors is replaced atomically first, then
// model.json records the class list and the enrollment, and train.log gets
// a line.
func Enroll(ctx context.Context, dir, name string, photos []string, d Describer, opt EnrollOptions) (*EnrollResult, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if len(photos) == 0 {
		return nil, errors.New("no photos given")
	}
	run, err := OpenFaceRun(dir)
	if err != nil {
		return nil, err
	}
	if opt.PipelineVersion != "" && run.Info.PipelineVersion != opt.PipelineVersion {
		return nil, fmt.Errorf("%s was trained on descriptors of face pipeline %q, this starid makes %q; train a new run",
			dir, run.Info.PipelineVersion, opt.PipelineVersion)
	}
	m := run.Model
	if len(m.Train) == 0 {
		return nil, fmt.Errorf("%s: the run stores no training descriptors, so its head cannot be refitted", filepath.Join(dir, train.BestFile))
	}
	got, st, err := Describe(ctx, d, photos, nil, DescribeOptions{Cache: opt.Cache, Workers: opt.Workers})
	if err != nil {
		return nil, err
	}
	var bad []string
	var add [][]float32
	for _, p := range got {
		switch {
		case p.Err != nil:
			if le := (*LoadError)(nil); errors.As(p.Err, &le) {
				return nil, le
			}
			bad = append(bad, p.Err.Error())
		case len(p.Faces) == 0:
			bad = append(bad, p.Path+": no face found")
		default:
			add = append(add, p.Largest().Descriptor)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("nothing enrolled; every photo needs a face:\n\t%s", strings.Join(bad, "\n\t"))
	}
	class := slices.Index(m.Classes, name)
	res := &EnrollResult{Name: name, New: class < 0, Added: len(add), Stats: st}
	classes := slices.Clone(m.Classes)
	if class < 0 {
		class = len(classes)
		classes = append(classes, name)
	}
	x := append(slices.Clone(m.Train), add...)
	y := slices.Clone(m.Labels)
	for range add {
		y = append(y, class)
	}
	c := run.Info.Config
	sched, err := optim.ParseSchedule(c.Schedule)
	if err != nil {
		sched = optim.Constant{}
	}
	hc := HeadConfig{Epochs: c.Epochs, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Momentum: c.Momentum,
		WeightDecay: c.WeightDecay, Schedule: sched, Seed: c.Seed}
	if hc.Epochs < 1 || hc.Batch < 1 || hc.Batch > train.MaxBatch || !(hc.LR > 0) {
		hc = HeadConfig{Epochs: DefaultEpochs, Batch: 32, Optimizer: "adam", LR: DefaultLR, Seed: c.Seed}
	}
	nm, err := Fit(ctx, classes, x, y, hc, nil)
	if err != nil {
		return nil, err
	}
	for _, l := range y {
		if l == class {
			res.Total++
		}
	}
	res.Classes = len(classes)
	if err := nm.Save(filepath.Join(dir, train.BestFile), run.Info.PipelineVersion, hc.Epochs); err != nil {
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
		return nil, fmt.Errorf("%s holds the new head but model.json was not updated: %w", filepath.Join(dir, train.BestFile), err)
	}
	if f, err := os.OpenFile(filepath.Join(dir, train.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		fmt.Fprintf(f, "%s enrolled %q (%s): %d photo(s): %s\n", t, name, map[bool]string{true: "new person", false: "more photos"}[res.New],
			len(photos), strings.Join(photos, ", "))
		f.Close()
	}
	return res, nil
}
