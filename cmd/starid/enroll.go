package main

import (
	"cmp"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/recognize/defaultmodel"
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
	cache   string
	workers int
	json    bool
}

// enrollResult is `enroll --json`.
type enrollResult struct {
	Run     string `json:"run"`
	Name    string `json:"name"`
	New     bool   `json:"new"`     // a person the run did not know
	Added   int    `json:"added"`   // photos whose face was added
	Total   int    `json:"total"`   // this person's photos now
	Classes int    `json:"classes"` // people the run knows now
}

func newEnrollCmd() *cobra.Command {
	var o enrollOptions
	c := &cobra.Command{
		Use:   "enroll [RUN] NAME PHOTO...",
		Short: "add a person (or more photos of a known one) to a face run without retraining",
		Long: `Add a person, or more photos of a known one, to a face run without
retraining. Without a run (the first argument is then the name), enroll adds
them to your copy of the built-in model, made on first use, which predict,
serve and eval without a run then use.`,
		RunE: func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
	cacheFlag(c.Flags(), &o.cache, "")
	workersFlag(c.Flags(), &o.workers, "face-describing")
	c.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return c
}

func (o *enrollOptions) run(pos []string, stdout, stderr io.Writer) error {
	run := ""
	if len(pos) > 0 && defaultmodel.IsRunArg(pos[0]) {
		run, pos = pos[0], pos[1:]
	}
	if len(pos) < 2 {
		return usagef("want a name and at least one photo, after a run directory to enroll into it")
	}
	if err := identify.CheckName(pos[0]); err != nil {
		return usagef("%v", err)
	}
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	dir := cmp.Or(run, defaultmodel.Which().Dir)
	waiting := func(holder string) {
		fmt.Fprintf(stderr, "run folder %s is in use by %s; waiting up to %s for it\n", dir, holder, identify.DefaultLockWait)
	}
	res, dir, err := defaultmodel.EnrollInto(context.Background(), run, pos[0], pos[1:], newDescriber(),
		identify.EnrollOptions{Cache: descriptorCache(o.cache, stderr), Workers: o.workers, PipelineVersion: faces.PipelineVersion,
			Waiting: waiting})
	if err != nil {
		return err
	}
	if run == "" {
		fmt.Fprintf(stderr, "no run given: enrolled into your copy of the built-in model in %s; predict, serve and eval without a run now use it (remove the folder to go back to the built-in model)\n", dir)
	}
	if o.json {
		return writeJSON(stdout, enrollResult{Run: dir, Name: res.Name, New: res.New, Added: res.Added, Total: res.Total, Classes: res.Classes})
	}
	what := "added more photos of"
	if res.New {
		what = "enrolled new person"
	}
	fmt.Fprintf(stdout, "%s %q: %d photo(s), %d in all; the run now knows %d people\n", what, res.Name, res.Added, res.Total, res.Classes)
	return nil
}
