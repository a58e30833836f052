package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/faces"
	"starid/internal/recognize"
)

func init() { addCommand(newFacesCmd) }

type facesOptions struct {
	out               string
	json, descriptors bool
}

func newFacesCmd() *cobra.Command {
	var o facesOptions
	c := &cobra.Command{
		Use:   "faces IMAGE...",
		Short: "find faces: boxes, scores and 68 landmarks",
		RunE: func(c *cobra.Command, args []string) error {
			return runFaces(args, o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "write the photo with boxes and landmarks drawn (a PNG `file`; a folder when several photos are given)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.descriptors, "descriptors", false, "include each face's 128-D descriptor in the JSON")
	return c
}

// faceFinder is what `faces` needs from the pipeline; tests substitute a
// fake so they run without the model files.
type faceFinder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// openFaceFinder loads the face pipeline from the fetched models.
var openFaceFinder = func() (faceFinder, error) { return faces.LoadInstalled() }

// runFaces finds the faces in each photo. Like predict, a photo that cannot
// be read gets an error entry, the others are still processed, and the exit
// status is then 2.
func runFaces(pos []string, o facesOptions, stdout, stderr io.Writer) error {
	if len(pos) == 0 {
		return usagef("want at least one image")
	}
	outPaths, err := annotatedPaths(o.out, pos)
	if err != nil {
		return err
	}
	finder, err := openFaceFinder()
	if err != nil {
		return err
	}
	results := make([]recognize.FoundFaces, 0, len(pos))
	failed := 0
	for i, path := range pos {
		drawTo := ""
		if outPaths != nil {
			drawTo = outPaths[i]
		}
		r := recognize.FindInPhoto(finder, path, drawTo, o.descriptors)
		if r.Error != "" {
			failed++
		}
		results = append(results, r)
		if !o.json {
			r.WriteText(stdout, stderr, drawTo)
		}
	}
	if o.json {
		if err := writeJSON(stdout, results); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be processed", failed, len(results))
	}
	return nil
}

// annotatedPaths maps each input to its --out file: out itself for one
// photo, out/<name>-faces.png for several (out is then a folder, made if
// missing). It refuses an --out that would overwrite an input photo.
func annotatedPaths(out string, inputs []string) ([]string, error) {
	if out == "" {
		return nil, nil
	}
	if len(inputs) == 1 {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return []string{filepath.Join(out, annotatedName(inputs[0]))}, nil
		}
		if sameFile(out, inputs[0]) {
			return nil, usagef("--out %s would overwrite the input photo", out)
		}
		if !strings.EqualFold(filepath.Ext(out), ".png") {
			return nil, usagef("--out %s: the annotated photo is a PNG; name it .png", out)
		}
		return []string{out}, nil
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: with several photos --out is a folder: %w", out, err)
	}
	paths := make([]string, len(inputs))
	seen := map[string]string{}
	for i, in := range inputs {
		p := filepath.Join(out, annotatedName(in))
		if prev, ok := seen[p]; ok {
			return nil, usagef("%s and %s would both be drawn to %s", prev, in, p)
		}
		seen[p] = in
		paths[i] = p
	}
	return paths, nil
}

func annotatedName(in string) string {
	base := filepath.Base(in)
	return strings.TrimSuffix(base, filepath.Ext(base)) + "-faces.png"
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
