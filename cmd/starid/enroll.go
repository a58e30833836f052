package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
)

func init() { addCommand(newEnrollCmd) }

// newDescriber gives the face commands their describer. The nets load on
// the first photo the cache cannot answer, so a fully cached command works
// without them. Tests replace it with a fake.
var newDescriber = func() identify.Describer {
	return identify.Lazy(func() (identify.Describer, error) { return faces.LoadInstalled() })
}

// describing is how the commands describe photos: the describer, the
// descriptor cache (descriptorCache), progress on stderr.
func describing(cacheDir string, workers int, stderr io.Writer) recognize.Describing {
	return recognize.Describing{Describer: newDescriber(), Cache: descriptorCache(cacheDir, stderr), Workers: workers,
		Progress: stderr}
}

// descriptorCache is the cache under root (--cache), $STARID_CACHE or the
// user's cache folder. Without any, commands still work, uncached, and say
// so.
func descriptorCache(root string, stderr io.Writer) *identify.Cache {
	c, err := identify.OpenCache(root, faces.PipelineVersion)
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v; descriptors will not be cached\n", err)
	}
	return c
}

type enrollOptions struct {
	cache          string
	workers        int
	json, strict   bool
	list           bool
	rename, remove string
}

// enrollResult is `enroll --json`.
type enrollResult struct {
	Run     string         `json:"run"`
	Name    string         `json:"name"`
	New     bool           `json:"new"`     // a person the run did not know
	Added   int            `json:"added"`   // photos whose face was added
	Total   int            `json:"total"`   // this person's photos now
	Classes int            `json:"classes"` // people the run knows now
	Skipped []data.Skipped `json:"skipped"` // photos left out, with why
}

func newEnrollCmd() *cobra.Command {
	var o enrollOptions
	c := &cobra.Command{
		Use: "enroll RUN NAME PHOTO...",
		Example: "  starid enroll RUN NAME PHOTO... [--strict]\n  starid enroll RUN --list\n" +
			"  starid enroll RUN --rename OLD NEW\n  starid enroll RUN --remove NAME",
		Short: "add a person (or more photos of a known one) to a face run without retraining",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(c, args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
	f := c.Flags()
	cacheFlag(f, &o.cache, "")
	workersFlag(f, &o.workers, "face-describing")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	f.BoolVar(&o.strict, "strict", false, "refuse the whole batch when any photo cannot be used (no face, unreadable, unclear, someone else's)")
	f.BoolVar(&o.list, "list", false, "list the people the run knows, with their photo counts")
	f.StringVar(&o.rename, "rename", "", "rename the person `OLD` to the name given after the run")
	f.StringVar(&o.remove, "remove", "", "forget the person `NAME` (the head is refitted on the others)")
	c.MarkFlagsMutuallyExclusive("list", "rename", "remove")
	return c
}

func (o *enrollOptions) run(c *cobra.Command, pos []string, stdout, stderr io.Writer) error {
	if len(pos) == 0 {
		return usagef("want a run directory (usage: starid enroll RUN NAME PHOTO...)")
	}
	opt := identify.EnrollOptions{PipelineVersion: faces.PipelineVersion, Strict: o.strict, Waiting: func(holder string) {
		fmt.Fprintf(stderr, "run folder %s is in use by %s; waiting up to %s for it\n", pos[0], holder, identify.DefaultLockWait)
	}}
	switch f := c.Flags(); {
	case o.list:
		if len(pos) != 1 {
			return usagef("--list takes only the run directory")
		}
		return listPeople(pos[0], o.json, stdout)
	case f.Changed("rename"):
		if len(pos) != 2 {
			return usagef("want the run directory and the new name (usage: starid enroll RUN --rename OLD NEW)")
		}
		if err := identify.Rename(pos[0], o.rename, pos[1], opt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "renamed %q to %q\n", o.rename, identify.NormalizeName(pos[1]))
		return nil
	case f.Changed("remove"):
		if len(pos) != 1 {
			return usagef("--remove takes only the run directory (usage: starid enroll RUN --remove NAME)")
		}
		if err := identify.Remove(context.Background(), pos[0], o.remove, opt); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %q\n", o.remove)
		return nil
	}
	if len(pos) < 3 {
		return usagef("want a run directory, a name and at least one photo (usage: starid enroll RUN NAME PHOTO...)")
	}
	if err := identify.CheckName(pos[1]); err != nil {
		return usagef("%v", err)
	}
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	opt.Cache, opt.Workers = descriptorCache(o.cache, stderr), o.workers
	res, err := identify.Enroll(context.Background(), pos[0], pos[1], pos[2:], newDescriber(), opt)
	if err != nil {
		return err
	}
	return o.print(pos[0], len(pos)-2, res, stdout, stderr)
}

// print reports an enrolment: the photos left out on stderr, the result
// on stdout.
func (o *enrollOptions) print(run string, given int, res *identify.EnrollResult, stdout, stderr io.Writer) error {
	if len(res.Skipped) > 0 {
		fmt.Fprintf(stderr, "warning: %d of %d photo(s) left out (--strict refuses the batch instead):\n", len(res.Skipped), given)
		for _, s := range res.Skipped {
			fmt.Fprintf(stderr, "  %s: %s\n", data.ShowPath(s.Path), s.Reason)
		}
	}
	if o.json {
		skipped := res.Skipped
		if skipped == nil {
			skipped = []data.Skipped{}
		}
		return writeJSON(stdout, enrollResult{Run: run, Name: res.Name, New: res.New, Added: res.Added, Total: res.Total,
			Classes: res.Classes, Skipped: skipped})
	}
	what := "added more photos of"
	if res.New {
		what = "enrolled new person"
	}
	fmt.Fprintf(stdout, "%s %q: %d photo(s), %d in all; the run now knows %d people\n", what, res.Name, res.Added, res.Total, res.Classes)
	return nil
}

// listPeople prints who the run in dir knows.
func listPeople(dir string, asJSON bool, stdout io.Writer) error {
	people, err := identify.People(dir)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, people)
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
