// Command libeval measures the photo library on a labelled photo folder
// (one sub-folder per person, e.g. ../shared/data/celebrity17): it indexes
// the photos into a fresh SQLite library through internal/library (the
// photos' main faces, described by the face pipeline with its descriptor
// cache), groups them without names, and reports BCubed precision and
// recall of the groups against the folders for several thresholds, then
// verify accuracy on sampled same/different pairs and the ROC.
//
//	go run ./scripts/dev/libeval /work/shared/data/celebrity17
//
// With --augcache FILE it measures only verify: every main and surest face
// is described once under test-time augments into FILE, then learned
// metrics, augments, face choice and library.VerifyRule are compared by
// identity-disjoint cross-validation (study.go); --fit-verify prints the
// rule fitted on all the people, for library.DefaultVerifyRule.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/library"
	"starid/internal/progress"
	"starid/internal/tensor"
)

func main() {
	pairs := flag.Int("pairs", 1000, "same and different pairs for verify accuracy")
	flag.BoolVar(&mirrorFaces, "mirror", false, "average each main face's descriptor with its mirrored chip's")
	flag.BoolVar(&unitLength, "normalize", false, "scale every descriptor to unit length (distances become chordal cosine distances)")
	flag.Func("jitter", "with --mirror, also average chips aligned on landmarks scaled by these factors (comma-separated)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(f, 64)
			if err != nil {
				return err
			}
			jitter = append(jitter, x)
		}
		return nil
	})
	flag.StringVar(&augFile, "augcache", "", "verify study only: describe the main and surest faces with test-time augments into this file (or read it) and measure verify from it")
	flag.BoolVar(&fitVerify, "fit-verify", false, "with --augcache: fit library.DefaultVerifyRule on all the people and print it")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: libeval [--pairs N] DATASET_DIR")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *pairs); err != nil {
		fmt.Fprintln(os.Stderr, "libeval:", err)
		os.Exit(1)
	}
}

func run(dataset string, nPairs int) error {
	ctx := context.Background()
	paths, labels, err := listPhotos(dataset)
	if err != nil {
		return err
	}
	if augFile != "" {
		c, err := loadOrDescribe(ctx, augFile, paths, labels)
		if err != nil {
			return err
		}
		if fitVerify {
			return printVerifyRule(c)
		}
		return verifyStudy(c, nPairs)
	}
	main, err := describe(ctx, paths)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "libeval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := library.Open(ctx, filepath.Join(dir, "lib.db"))
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := time.Now()
	rep, err := (&library.Indexer{Store: s, Describer: mainFaces(main), Pipeline: faces.PipelineVersion}).Index(ctx, []string{dataset})
	if err != nil {
		return err
	}
	fmt.Printf("indexed %d photos (%d faces, %d without a face or unreadable) in %v from the descriptor cache\n",
		rep.Described, rep.Faces, rep.Bad, time.Since(t0).Round(time.Millisecond))
	label := map[string]string{}
	for i, p := range paths {
		label[p] = labels[i]
	}
	fmt.Println("\nthreshold  people  BCubed-precision  BCubed-recall  F1")
	for _, th := range []float64{0.40, 0.45, 0.50, 0.55, 0.60} {
		if err := regroup(ctx, s, th); err != nil {
			return err
		}
		ps, err := s.People(ctx)
		if err != nil {
			return err
		}
		p, r := bcubed(ps, label)
		fmt.Printf("%9.2f  %6d  %16.4f  %13.4f  %.4f\n", th, len(ps), p, r, 2*p*r/(p+r))
	}
	return verifyReport(paths, labels, main, nPairs)
}

// listPhotos is every photo under dataset with its folder's name.
func listPhotos(dataset string) ([]string, []string, error) {
	var paths, labels []string
	err := filepath.WalkDir(dataset, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && library.IsPhoto(p) {
			abs, err := filepath.Abs(p)
			if err != nil {
				return err
			}
			paths = append(paths, abs)
			labels = append(labels, filepath.Base(filepath.Dir(p)))
		}
		return nil
	})
	if len(paths) == 0 && err == nil {
		err = fmt.Errorf("%s: no photos", dataset)
	}
	return paths, labels, err
}

// describe gives each photo's main face (nil when none), through the
// descriptor cache so that reruns describe nothing.
func describe(ctx context.Context, paths []string) (map[string]*faces.Face, error) {
	photos, err := describePhotos(ctx, paths)
	if err != nil {
		return nil, err
	}
	out := map[string]*faces.Face{}
	for i := range photos {
		out[photos[i].Path] = photos[i].Largest()
	}
	if mirrorFaces {
		if err := mirrorAll(out); err != nil {
			return nil, err
		}
	}
	if unitLength {
		for _, f := range out {
			if f != nil {
				normalize(f.Descriptor)
			}
		}
	}
	return out, nil
}

// describePhotos is every face of each photo, through the descriptor cache.
func describePhotos(ctx context.Context, paths []string) ([]identify.Photo, error) {
	cdir, err := identify.DefaultCacheDir(faces.PipelineVersion)
	if err != nil {
		return nil, err
	}
	d := identify.Lazy(func() (identify.Describer, error) {
		return faces.LoadInstalled()
	})
	photos, stats, err := identify.Describe(ctx, d, paths, nil, identify.DescribeOptions{
		Cache: &identify.Cache{Dir: cdir, Version: faces.PipelineVersion}, Progress: progress.New(os.Stderr, 0, "describing faces").Func(), Landmarks: true})
	if err != nil {
		return nil, err
	}
	fmt.Printf("described %d photos: %d from the cache, %d computed, %d unusable\n", len(photos), stats.Cached, stats.Computed, stats.Unusable)
	return photos, nil
}

func normalize(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
}

var (
	unitLength  bool
	mirrorFaces bool
	jitter      []float64
	augFile     string
	fitVerify   bool
)

// mirrorAll replaces each main face's descriptor by its mean with the
// mirrored chip's (library.MirroredDescriptor), photos decoded again.
func mirrorAll(main map[string]*faces.Face) error {
	p, err := faces.LoadInstalled()
	if err != nil {
		return err
	}
	var paths []string
	for path, f := range main {
		if f != nil {
			paths = append(paths, path)
		}
	}
	errs := make([]error, len(paths))
	tensor.ForEach(len(paths), func(_, i int) {
		img, err := data.DecodeFile(paths[i], data.DefaultMaxPixels)
		if err != nil {
			errs[i] = err
			return
		}
		f := main[paths[i]]
		f.Descriptor, errs[i] = library.JitteredDescriptor(p, faces.FromImage(img), *f, jitter)
	})
	fmt.Printf("mirrored %d main faces\n", len(paths))
	return errors.Join(errs...)
}

// mainFaces is a library.Describer answering from the described photos:
// each photo's main face, the one its folder label is about.
type mainFaces map[string]*faces.Face

func (m mainFaces) Describe(_ context.Context, path string, _ []byte) ([]library.Face, error) {
	f, ok := m[path]
	if !ok || f == nil {
		return nil, fmt.Errorf("no face found")
	}
	lf := library.Face{Box: [4]float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Descriptor: f.Descriptor, Score: f.Score, Quality: f.Score}
	for _, p := range f.Landmarks {
		lf.Landmarks = append(lf.Landmarks, [2]float32{float32(p.X), float32(p.Y)})
	}
	return []library.Face{lf}, nil
}

// regroup drops all automatic groups and groups again at threshold.
func regroup(ctx context.Context, s *library.Store, threshold float64) error {
	for _, q := range []string{`DELETE FROM assignments`, `DELETE FROM people`} {
		if _, err := s.DB.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	_, err := s.Group(ctx, library.GroupOptions{Threshold: threshold, Seed: 1})
	return err
}

// bcubed is BCubed precision and recall (Bagga and Baldwin): for each
// face, the share of its group with its label, and the share of its label
// in its group, averaged over faces.
func bcubed(ps []library.Person, label map[string]string) (precision, recall float64) {
	total := map[string]int{}
	n := 0
	for _, p := range ps {
		for _, f := range p.Faces {
			total[label[f.Photo]]++
			n++
		}
	}
	for _, p := range ps {
		in := map[string]int{}
		for _, f := range p.Faces {
			in[label[f.Photo]]++
		}
		for l, c := range in {
			precision += float64(c) * float64(c) / float64(len(p.Faces))
			recall += float64(c) * float64(c) / float64(total[l])
		}
	}
	return precision / float64(n), recall / float64(n)
}
