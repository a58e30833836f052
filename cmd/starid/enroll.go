package main

import (
	"fmt"
	"io"

	"starid/internal/faces"
	"starid/internal/identify"
)

func init() {
	register("enroll", "add a person (or more photos of a known one) to a face run without retraining", runEnroll)
}

// newDescriber gives the face commands their describer. The nets load on
// the first photo the cache cannot answer, so a fully cached command works
// without them. Tests replace it with a fake.
var newDescriber = func() identify.Describer {
	return identify.Lazy(func() (identify.Describer, error) {
		dir, err := faces.ModelDir()
		if err != nil {
			return nil, err
		}
		return faces.LoadPipeline(dir)
	})
}

// descriptorCache is the cache under root (--cache), $STARID_CACHE or the
// user's cache folder. Without any, commands still work, uncached, and say
// so.
func descriptorCache(root string, stderr io.Writer) *identify.Cache {
	dir := ""
	if root != "" {
		dir = identify.CacheDirUnder(root, faces.PipelineVersion)
	} else {
		d, err := identify.DefaultCacheDir(faces.PipelineVersion)
		if err != nil {
			fmt.Fprintf(stderr, "warning: %v; descriptors will not be cached\n", err)
			return nil
		}
		dir = d
	}
	return &identify.Cache{Dir: dir, Version: faces.PipelineVersion}
}

const cacheHelp = "descriptor cache folder (default $" + identify.EnvCache + ", else starid/descriptors in the user cache folder)"

func runEnroll(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("enroll", "enroll [RUN] NAME PHOTO... [--cache DIR] [--workers N]", stderr)
	cacheDir := fs.String("cache", "", cacheHelp)
	workers := fs.Int("workers", 0, "face-describing goroutines (0: one per core)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || runArg(pos[0]) && len(pos) < 3 {
		return usagef("want a name and at least one photo, after a run directory to enroll into it (usage: starid enroll [RUN] NAME PHOTO...)")
	}
	if *workers < 0 {
		return usagef("--workers %d: must be 0 (one per core) or more", *workers)
	}
	opt := identify.EnrollOptions{Cache: descriptorCache(*cacheDir, stderr), Workers: *workers, PipelineVersion: faces.PipelineVersion}
	res, err := enrollModel(pos, opt, stderr)
	if err != nil {
		return err
	}
	what := "added more photos of"
	if res.New {
		what = "enrolled new person"
	}
	fmt.Fprintf(stdout, "%s %q: %d photo(s), %d in all; the run now knows %d people\n", what, res.Name, res.Added, res.Total, res.Classes)
	return nil
}
