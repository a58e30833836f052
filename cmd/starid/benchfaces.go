package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"starid/internal/bench"
	"starid/internal/progress"
)

// runBenchFaces times the face pipeline on photos (bench.Faces); folders
// are searched for photos, so a whole data set can be timed.
func runBenchFaces(paths []string, steps, warmup int, asJSON bool, stdout, stderr io.Writer) error {
	if steps < 1 || warmup < 0 {
		return usagef("--steps must be positive and --warmup 0 or more")
	}
	if len(paths) == 0 {
		return usagef("--faces wants at least one photo or folder")
	}
	files, err := expandPhotos(paths)
	if err != nil {
		return err
	}
	finder, err := openFaceFinder()
	if err != nil {
		return err
	}
	bar := progress.New(stderr, len(files), "timing photos")
	res, err := bench.Faces(files, finder, bench.FacesOptions{Steps: steps, Warmup: warmup, Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	if len(files) <= 20 {
		for _, p := range res.PerPhoto {
			fmt.Fprintf(stdout, "%s (%dx%d): %d faces, median %.1f ms\n", p.Image, p.Width, p.Height, p.Faces, p.MedianMS)
		}
	}
	fmt.Fprintf(stdout, "faces %s threads=%d gemm=%s: %d photos, median %.1f ms, p90 %.1f ms, min %.1f ms per photo (%d steps each); "+
		"one pass %.1f s; %d faces, %d photos without a face; decode median %.1f ms (not timed above); peak RSS %.0f MB\n",
		res.Pipeline, res.Threads, res.Kernel, res.Photos, res.MedianMS, res.P90MS, res.MinMS, steps,
		res.PassSeconds, res.Faces, res.NoFace, res.DecodeMedian, res.PeakRSSMB)
	return nil
}

// expandPhotos lists the given files and, for folders, every photo under
// them (by extension, sorted), so `bench --faces DIR` times a data set.
func expandPhotos(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && isPhotoName(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no photos in this folder", p)
		}
		slices.Sort(files[n:])
	}
	return files, nil
}

// isPhotoName says whether a file in a folder given to bench --faces is
// taken as a photo: by extension, since sniffing every file of a large
// folder would be timed nowhere but still cost.
func isPhotoName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp":
		return !strings.HasPrefix(filepath.Base(path), ".")
	}
	return false
}
