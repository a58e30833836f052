package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/recognize"
)

func init() { addCommand(newFacesCmd) }

type facesOptions struct {
	out               string
	json, descriptors bool
	detector          faces.DetectorChoice
}

func newFacesCmd() *cobra.Command {
	var o facesOptions
	c := command("faces IMAGE|DIR...", "find faces: boxes, scores and 68 landmarks", func(c *cobra.Command, args []string) error {
		return runFaces(args, o, c.OutOrStdout(), c.ErrOrStderr())
	})
	f := c.Flags()
	f.StringVar(&o.out, "out", "", "write the photo with boxes and landmarks drawn (a PNG `file`; a folder when several photos or a folder are given)")
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.BoolVar(&o.descriptors, "descriptors", false, "include each face's 128-D descriptor in the JSON")
	detectorFlag(f, &o.detector)
	return c
}

// faceFinder is what `faces` needs from the pipeline; tests substitute a
// fake so they run without the model files.
type faceFinder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// openFaceFinder loads the face pipeline from the fetched models, with
// the detector d.
var openFaceFinder = func(d faces.DetectorChoice) (faceFinder, error) { return faces.LoadInstalledWith(d) }

// runFaces finds the faces in each photo. Like predict, a photo that cannot
// be read gets an error entry, the others are still processed, and the exit
// status is then 2.
func runFaces(pos []string, o facesOptions, stdout, stderr io.Writer) error {
	if len(pos) == 0 {
		return usagef("want at least one image")
	}
	// Folders are walked, as predict's are.
	pos, err := data.ListPhotos(pos)
	if err != nil {
		return err
	}
	outPaths, err := recognize.DrawPaths(o.out, pos)
	if err != nil {
		return usagef("%v", err)
	}
	if len(pos) > 1 && o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return fmt.Errorf("--out %s: with several photos --out is a folder: %w", o.out, err)
		}
	}
	finder, err := openFaceFinder(o.detector)
	if err != nil {
		return err
	}
	var each func(recognize.FoundFaces, string)
	if !o.json {
		each = func(r recognize.FoundFaces, drawnTo string) { r.WriteText(stdout, stderr, drawnTo) }
	}
	results, failed := recognize.FindInPhotos(finder, pos, outPaths, o.descriptors, each)
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
