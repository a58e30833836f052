package main

import (
	"context"
	"fmt"
	"io"

	"starid/internal/data"
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
	fs := newFlagSet("enroll", "enroll RUN NAME PHOTO... [--strict] [--cache DIR] [--workers N] | enroll RUN --list | "+
		"enroll RUN --rename OLD NEW | enroll RUN --remove NAME", stderr)
	cacheDir := fs.String("cache", "", cacheHelp)
	workers := fs.Int("workers", 0, "face-describing goroutines (0: one per core)")
	strict := fs.Bool("strict", false, "refuse the whole batch when any photo cannot be used (no face, unreadable, unclear, someone else's)")
	list := fs.Bool("list", false, "list the people the run knows, with their photo counts")
	rename := fs.String("rename", "", "rename the person `OLD` to the name given after the run")
	remove := fs.String("remove", "", "forget the person `NAME` (the head is refitted on the others)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("want a run directory (usage: starid enroll RUN NAME PHOTO...)")
	}
	opt := identify.EnrollOptions{PipelineVersion: faces.PipelineVersion, Strict: *strict, Waiting: func(holder string) {
		fmt.Fprintf(stderr, "run folder %s is in use by %s; waiting up to %s for it\n", pos[0], holder, identify.DefaultLockWait)
	}}
	switch {
	case *list:
		if len(pos) != 1 {
			return usagef("--list takes only the run directory")
		}
		return listPeople(pos[0], stdout)
	case flagGiven(fs, "rename"):
		if len(pos) != 2 {
			return usagef("want the run directory and the new name (usage: starid enroll RUN --rename OLD NEW)")
		}
		if err := identify.Rename(pos[0], *rename, pos[1], opt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "renamed %q to %q\n", *rename, identify.NormalizeName(pos[1]))
		return nil
	case flagGiven(fs, "remove"):
		if len(pos) != 1 {
			return usagef("--remove takes only the run directory (usage: starid enroll RUN --remove NAME)")
		}
		if err := identify.Remove(context.Background(), pos[0], *remove, opt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %q\n", *remove)
		return nil
	}
	if len(pos) < 3 {
		return usagef("want a run directory, a name and at least one photo (usage: starid enroll RUN NAME PHOTO...)")
	}
	if err := identify.CheckName(pos[1]); err != nil {
		return usagef("%v", err)
	}
	if *workers < 0 {
		return usagef("--workers %d: must be 0 (one per core) or more", *workers)
	}
	opt.Cache, opt.Workers = descriptorCache(*cacheDir, stderr), *workers
	res, err := identify.Enroll(context.Background(), pos[0], pos[1], pos[2:], newDescriber(), opt)
	if err != nil {
		return err
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d photo(s) left out (--strict refuses the batch instead):\n", len(res.Skipped), len(pos)-2)
		for _, s := range res.Skipped {
			fmt.Fprintf(stderr, "  %s: %s\n", data.ShowPath(s.Path), s.Reason)
		}
	}
	what := "added more photos of"
	if res.New {
		what = "enrolled new person"
	}
	fmt.Fprintf(stdout, "%s %q: %d photo(s), %d in all; the run now knows %d people\n", what, res.Name, res.Added, res.Total, res.Classes)
	return nil
}

// listPeople prints who the run in dir knows.
func listPeople(dir string, stdout io.Writer) error {
	people, err := identify.People(dir)
	if err != nil {
		return err
	}
	for _, p := range people {
		how := "trained"
		if p.Enrolled != "" {
			how = "enrolled " + p.Enrolled
		}
		fmt.Fprintf(stdout, "%-30s %4d photo(s)  %s\n", p.Name, p.Photos, how)
	}
	fmt.Fprintf(stdout, "%d people\n", len(people))
	return nil
}
