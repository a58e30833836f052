package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/recognize/defaultmodel"
)

func init() { addCommand(newEnrollCmd) }

// newDescriber gives the face commands their describer, with the detector
// d. The nets load on the first photo the cache cannot answer, so a fully
// cached command works without them. Tests replace it with a fake.
var newDescriber = func(d faces.DetectorChoice) identify.Describer {
	return identify.Lazy(func() (identify.Describer, error) { return faces.LoadInstalledWith(d) })
}

// describing is how the commands describe photos: the describer with the
// detector d, the descriptor cache (descriptorCache) of that detector's
// descriptors, progress on stderr.
func describing(cacheDir string, workers int, d faces.DetectorChoice, stderr io.Writer) recognize.Describing {
	return recognize.Describing{Describer: newDescriber(d), Cache: descriptorCache(cacheDir, d, stderr), Workers: workers,
		Progress: stderr}
}

// descriptorCache is the cache under root (--cache), $STARID_CACHE or the user's cache
// folder, of the descriptors made with detector d. Without any, commands still work, uncached, and say so.
func descriptorCache(root string, d faces.DetectorChoice, stderr io.Writer) *identify.Cache {
	c, err := identify.OpenCache(root, d.Version())
	if err != nil {
		fmt.Fprintf(stderr, "warning: %v; descriptors will not be cached\n", err)
	}
	return c
}

type enrollOptions struct {
	cache, rename, remove string
	workers               int
	json, strict, list    bool
}

func newEnrollCmd() *cobra.Command {
	var o enrollOptions
	c := &cobra.Command{
		Use: "enroll [RUN] NAME PHOTO...",
		Example: "  starid enroll [RUN] NAME PHOTO... [--strict]\n  starid enroll [RUN] --list\n" +
			"  starid enroll [RUN] --rename OLD NEW\n  starid enroll [RUN] --remove NAME",
		Short: "add a person (or more photos of a known one) to a face run without retraining",
		Long: `Add a person, or more photos of one, to a face run (without a run: to your copy of the built-in
model, which predict, serve and eval then use) without retraining. Unusable photos are left out and
listed; --strict refuses the batch instead. See docs/cli.md.`,
		RunE: func(c *cobra.Command, args []string) error { return o.run(c, args, c.OutOrStdout(), c.ErrOrStderr()) },
	}
	f := c.Flags()
	cacheFlag(f, &o.cache, "")
	workersFlag(f, &o.workers, "face-describing")
	f.BoolVar(&o.json, "json", false, "print the result (or --list) as JSON")
	f.BoolVar(&o.strict, "strict", false, "refuse the whole batch when any photo cannot be used (no face, unreadable, unclear, someone else's)")
	f.BoolVar(&o.list, "list", false, "list the people the run knows, with their photo counts")
	f.StringVar(&o.rename, "rename", "", "rename the person `OLD` to the name given after the run")
	f.StringVar(&o.remove, "remove", "", "forget the person `NAME` (the head is refitted on the others)")
	return c
}

func (o *enrollOptions) run(c *cobra.Command, pos []string, stdout, stderr io.Writer) error {
	opt := identify.EnrollOptions{PipelineVersion: faces.PipelineVersion, Strict: o.strict}
	if f := c.Flags(); o.list && (f.Changed("rename") || f.Changed("remove")) || f.Changed("rename") && f.Changed("remove") {
		return usagef("--list, --rename and --remove exclude each other")
	}
	if f := c.Flags(); f.Changed("rename") && strings.TrimSpace(o.rename) == "" || f.Changed("remove") && strings.TrimSpace(o.remove) == "" {
		// Not "the run knows no """: the name was left out.
		return usagef("--rename and --remove want a person's name, not an empty one (enroll --list shows who the run knows)")
	}
	switch f := c.Flags(); {
	case o.list:
		return listPeople(pos, o.json, stdout, stderr)
	case f.Changed("rename"):
		if len(pos) != 1 && len(pos) != 2 || len(pos) == 1 && defaultmodel.IsRunArg(pos[0]) {
			return usagef("want the new name, after the run directory to rename in it (usage: starid enroll [RUN] --rename OLD NEW)")
		}
		err := defaultmodel.Rename(cmp.Or(pos[:len(pos)-1]...), o.rename, pos[len(pos)-1], opt, stderr)
		if err == nil {
			fmt.Fprintf(stdout, "renamed %q to %q\n", o.rename, identify.NormalizeName(pos[len(pos)-1]))
		}
		return err
	case f.Changed("remove"):
		if len(pos) > 1 {
			return usagef("--remove takes only the run directory, or nothing for the built-in model (usage: starid enroll [RUN] --remove NAME)")
		}
		err := defaultmodel.Remove(context.Background(), cmp.Or(pos...), o.remove, opt, stderr)
		if err == nil {
			fmt.Fprintf(stdout, "removed %q\n", o.remove)
		}
		return err
	}
	run, rest := "", pos
	if len(pos) > 0 && defaultmodel.IsRunArg(pos[0]) {
		run, rest = pos[0], pos[1:]
	}
	if len(rest) < 2 {
		return usagef("want a name and at least one photo, after a run directory to enroll into it (usage: starid enroll [RUN] NAME PHOTO...)")
	}
	if err := identify.CheckName(rest[0]); err != nil {
		return usagef("%v", err)
	}
	if err := checkWorkers(&o.workers, stderr); err != nil {
		return err
	}
	opt.Cache, opt.Workers = descriptorCache(o.cache, faces.AutoDetector, stderr), o.workers
	res, err := defaultmodel.Enroll(context.Background(), run, rest[0], rest[1:], newDescriber(faces.AutoDetector), opt, stderr)
	if err != nil {
		return err
	}
	res.WriteSkipped(stderr, len(rest)-1)
	if o.json {
		return writeJSON(stdout, res.Summary(cmp.Or(run, defaultmodel.Which().Dir)))
	}
	return res.WriteText(stdout)
}

// listPeople prints who the run pos names (or the default model) knows.
func listPeople(pos []string, asJSON bool, stdout, stderr io.Writer) error {
	if len(pos) > 1 {
		return usagef("--list takes only the run directory, or nothing for the built-in model")
	}
	people, err := defaultmodel.People(cmp.Or(pos...), func(m string) { fmt.Fprintln(stderr, m) })
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, people)
	}
	return identify.WritePeople(stdout, people)
}
