// Command fewshot measures enrolment with few photos (issue 13, item 6):
// for each of several sets of five people left out of training, a face run
// is trained on the other twelve of celebrity17 with `train --model face`'s
// defaults (identify.Train, as the command line calls it); then, for k = 1,
// 2, 3, 5 and 10, a copy of that run enrols each of the five with k of
// their photos (identify.Enroll, as `starid enroll` calls it) and names
// every other photo of them and the twelve's test photos with the run's
// unknown rule. A person's enrolment photos are the first k of a fixed pool
// of ten, so the test photos are the same for every k.
//
//	go run ./scripts/experiments/fewshot -data /work/shared/data/celebrity17 -sets 4
//
// It prints a Markdown table; nothing it makes is committed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
	"starid/internal/train"
)

var ks = []int{1, 2, 3, 5, 10}

const (
	newPeople = 5
	poolSize  = 10 // enrolment photos per person; the rest are tested
)

// tally counts decisions of one kind of photo. Of the faces answered
// "unknown" although the head's top class was right, farther counts those
// the distance limit refused (the rest fell below the probability floor).
type tally struct{ right, wrong, unknown, total, rightButUnknown, farther int }

func (t *tally) add(got, want string) {
	t.total++
	switch got {
	case want:
		t.right++
	case eval.UnknownName:
		t.unknown++
	default:
		t.wrong++
	}
}

func (t tally) pct(n int) float64 { return 100 * float64(n) / float64(max(t.total, 1)) }

// result is one set's tallies at one k.
type result struct {
	fresh, known tally
	used         int // photos enrolled in all (some of the k may be left out)
}

func main() {
	dataDir := flag.String("data", "/work/shared/data/celebrity17", "photos, one folder per person")
	sets := flag.Int("sets", 4, "how many sets of five left-out people")
	seed := flag.Uint64("seed", 1, "seed of the sets and the enrolment photos")
	work := flag.String("work", "", "folder for the runs (default: a temporary one, removed)")
	flag.Parse()
	if err := run(*dataDir, *sets, *seed, *work); err != nil {
		fmt.Fprintln(os.Stderr, "fewshot:", err)
		os.Exit(1)
	}
}

func run(dataDir string, sets int, seed uint64, work string) error {
	ds, err := data.Scan(dataDir, data.ScanOptions{})
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "fewshot"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	cacheDir, err := identify.DefaultCacheDir(faces.PipelineVersion)
	if err != nil {
		return err
	}
	cache := &identify.Cache{Dir: cacheDir, Version: faces.PipelineVersion}
	d := identify.Lazy(func() (identify.Describer, error) {
		return faces.LoadInstalled()
	})
	rng := rand.New(rand.NewPCG(seed, 0x66657773686f74)) // "fewshot"
	all := make([][]result, sets)
	for s := range sets {
		left := rng.Perm(len(ds.Classes))[:newPeople]
		names := make([]string, newPeople)
		for i, c := range left {
			names[i] = ds.Classes[c]
		}
		fmt.Fprintf(os.Stderr, "set %d: left out %v\n", s+1, names)
		if all[s], err = oneSet(ds, names, filepath.Join(work, fmt.Sprint(s)), rng, cache, d); err != nil {
			return err
		}
	}
	report(os.Stdout, all, sets)
	return nil
}

// oneSet trains on everyone but names, then enrols them with k photos for
// every k.
func oneSet(ds *data.Dataset, names []string, dir string, rng *rand.Rand, cache *identify.Cache, d identify.Describer) ([]result, error) {
	ctx := context.Background()
	base := filepath.Join(dir, "base")
	cfg := identify.TrainConfig{Settings: train.DefaultConfig().Settings, Exclude: names, Cache: cache, PipelineVersion: faces.PipelineVersion}
	cfg.Data, cfg.Out, cfg.Model = ds.Root, base, "face"
	cfg.Epochs, cfg.LR, cfg.Schedule, cfg.Size, cfg.CropMargin = identify.DefaultEpochs, identify.DefaultLR, identify.DefaultSchedule, 0, 0
	if _, err := identify.Train(ctx, cfg, d, runs.Output{}); err != nil {
		return nil, err
	}
	pool, test := map[string][]string{}, map[string][]string{}
	for _, n := range names {
		var paths []string
		for _, smp := range ds.Samples {
			if ds.Classes[smp.Class] == n {
				paths = append(paths, smp.Path)
			}
		}
		rng.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
		pool[n], test[n] = paths[:poolSize], paths[poolSize:]
	}
	known, err := knownTest(ds, base)
	if err != nil {
		return nil, err
	}
	out := make([]result, len(ks))
	for i, k := range ks {
		runDir := filepath.Join(dir, fmt.Sprintf("k%d", k))
		if err := copyRun(base, runDir); err != nil {
			return nil, err
		}
		for _, n := range names {
			res, err := identify.Enroll(ctx, runDir, n, pool[n][:k], d, identify.EnrollOptions{Cache: cache, PipelineVersion: faces.PipelineVersion})
			if be := (*identify.BatchError)(nil); errors.As(err, &be) {
				// As a user would be: told, and the person not enrolled
				// (their test photos then count as not named).
				fmt.Fprintf(os.Stderr, "  k=%d: %v\n", k, err)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("k=%d: %w", k, err)
			}
			out[i].used += res.Added
		}
		if out[i], err = score(ctx, runDir, test, known, cache, d, out[i]); err != nil {
			return nil, err
		}
		f := out[i].fresh
		fmt.Fprintf(os.Stderr, "  k=%d: new people %d/%d right, %d wrong (%d unknown with the right top class, %d of them over the distance limit); known %d/%d right, %d wrong\n",
			k, f.right, f.total, f.wrong, f.rightButUnknown, f.farther, out[i].known.right, out[i].known.total, out[i].known.wrong)
	}
	return out, nil
}

// knownTest is the trained people's test photos, by person, from the run's
// split.
func knownTest(ds *data.Dataset, run string) (map[string][]string, error) {
	sp, err := data.ReadSplit(filepath.Join(run, "split.json"))
	if err != nil {
		return nil, err
	}
	_, testIdx, err := sp.Indices(ds)
	if err != nil {
		return nil, err
	}
	info, err := identify.OpenFaceRun(run)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, i := range testIdx {
		n := ds.Classes[ds.Samples[i].Class]
		if slices.Contains(info.Model.Classes, n) {
			out[n] = append(out[n], ds.Samples[i].Path)
		}
	}
	return out, nil
}

// score names the test photos with the run in dir.
func score(ctx context.Context, dir string, fresh, known map[string][]string, cache *identify.Cache, d identify.Describer, r result) (result, error) {
	run, err := identify.OpenFaceRun(dir)
	if err != nil {
		return r, err
	}
	rule := run.Rule()
	for _, side := range []struct {
		photos map[string][]string
		t      *tally
	}{{fresh, &r.fresh}, {known, &r.known}} {
		for want, paths := range side.photos {
			got, _, err := identify.Describe(ctx, d, paths, nil, identify.DescribeOptions{Cache: cache})
			if err != nil {
				return r, err
			}
			for _, p := range got {
				name := eval.UnknownName // no face, or unreadable
				if f := p.Largest(); p.Err == nil && f != nil {
					a := run.Model.Identify(f.Descriptor, rule, 1)
					name = a.Name
					if a.Class == eval.Unknown && run.Model.Classes[a.Best] == want {
						side.t.rightButUnknown++
						if a.Distance > rule.MaxDistance {
							side.t.farther++
						}
					}
				}
				side.t.add(name, want)
			}
		}
	}
	return r, nil
}

// copyRun copies a run folder's files (it has no sub-folders).
func copyRun(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// report prints, per k, the mean over the sets and the range.
func report(w io.Writer, all [][]result, sets int) {
	fmt.Fprintf(w, "| photos per new person | new people named right | wrong name | unknown | known people named right | known wrong name | photos enrolled (of given) |\n")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for i, k := range ks {
		var fr, fw, fu, kr, kw, used []float64
		for s := range sets {
			r := all[s][i]
			fr, fw, fu = append(fr, r.fresh.pct(r.fresh.right)), append(fw, r.fresh.pct(r.fresh.wrong)), append(fu, r.fresh.pct(r.fresh.unknown))
			kr, kw = append(kr, r.known.pct(r.known.right)), append(kw, r.known.pct(r.known.wrong))
			used = append(used, float64(r.used))
		}
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %.1f of %d |\n", k, spread(fr), spread(fw), spread(fu), spread(kr), spread(kw),
			mean(used), k*newPeople)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// spread is "mean% (min-max)".
func spread(v []float64) string {
	return fmt.Sprintf("%.1f%% (%.1f-%.1f)", mean(v), slices.Min(v), slices.Max(v))
}
