package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"starid/internal/bench"
	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/tensor"
)

// benchFacesResult is `bench --faces --json`: median_ms and min_ms are per
// photo (the median and minimum over photos of each photo's median), the
// names the contract fixes for bench output.
type benchFacesResult struct {
	MedianMS     float64          `json:"median_ms"`
	MinMS        float64          `json:"min_ms"`
	P90MS        float64          `json:"p90_ms"`
	MaxMS        float64          `json:"max_ms"`
	Photos       int              `json:"photos"`
	Faces        int              `json:"faces"`
	NoFace       int              `json:"photos_without_face"`
	Steps        int              `json:"steps"`
	PassSeconds  float64          `json:"pass_seconds"` // one pass over all photos: sum of per-photo medians
	PeakRSSMB    float64          `json:"peak_rss_mb"`
	Threads      int              `json:"threads"`
	Backend      string           `json:"gemm_backend"`
	Kernel       string           `json:"gemm_kernel"`
	Pipeline     string           `json:"pipeline"`
	PerPhoto     []benchFacePhoto `json:"per_photo"`
	DecodeMedian float64          `json:"decode_median_ms"` // not part of the timed step
}

type benchFacePhoto struct {
	Image    string  `json:"image"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	MedianMS float64 `json:"median_ms"`
	Faces    int     `json:"faces"`
}

// runBenchFaces times the face pipeline (detect, landmarks, align,
// describe every face) on already-decoded photos; decoding is timed
// apart, since it depends on the file format rather than on starid.
// Folders are searched for photos, so a whole data set can be timed.
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
	res := benchFacesResult{Steps: steps, Threads: runtime.GOMAXPROCS(0), Backend: tensor.Backend, Kernel: tensor.KernelFamily(), Pipeline: faces.PipelineVersion}
	var medians, decodes []float64
	for i, path := range files {
		t0 := time.Now()
		img, err := data.DecodeFile(path, data.DefaultMaxPixels)
		if err != nil {
			return err
		}
		decodes = append(decodes, ms(time.Since(t0)))
		fimg := faces.FromImage(img)
		var found []faces.Face
		r, err := bench.Run(warmup, steps, func() error {
			var err error
			found, err = finder.Faces(fimg)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		medians = append(medians, r.MedianMS)
		res.PerPhoto = append(res.PerPhoto, benchFacePhoto{Image: path, Width: fimg.W, Height: fimg.H, MedianMS: r.MedianMS, Faces: len(found)})
		res.Faces += len(found)
		if len(found) == 0 {
			res.NoFace++
		}
		if !asJSON && len(files) > 20 && (i+1)%100 == 0 {
			fmt.Fprintf(stderr, "bench --faces: %d/%d photos\n", i+1, len(files))
		}
	}
	sorted := slices.Clone(medians)
	slices.Sort(sorted)
	res.Photos = len(files)
	res.MedianMS = bench.Median(medians)
	res.MinMS = sorted[0]
	res.MaxMS = sorted[len(sorted)-1]
	res.P90MS = sorted[min(len(sorted)-1, (len(sorted)*9)/10)]
	for _, m := range medians {
		res.PassSeconds += m / 1000
	}
	res.DecodeMedian = bench.Median(decodes)
	res.PeakRSSMB = bench.PeakRSSMB()
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

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
