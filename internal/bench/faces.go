package bench

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/tensor"
)

// FacesResult is `bench --faces --json`: median_ms and min_ms are per
// photo (the median and minimum over photos of each photo's median), the
// names the contract fixes for bench output.
type FacesResult struct {
	MedianMS     float64     `json:"median_ms"`
	MinMS        float64     `json:"min_ms"`
	P90MS        float64     `json:"p90_ms"`
	MaxMS        float64     `json:"max_ms"`
	Photos       int         `json:"photos"`
	Faces        int         `json:"faces"`
	NoFace       int         `json:"photos_without_face"`
	Steps        int         `json:"steps"`
	PassSeconds  float64     `json:"pass_seconds"` // one pass over all photos: sum of per-photo medians
	PeakRSSMB    float64     `json:"peak_rss_mb"`
	Threads      int         `json:"threads"`
	Backend      string      `json:"gemm_backend"`
	Kernel       string      `json:"gemm_kernel"`
	Pipeline     string      `json:"pipeline"`
	PerPhoto     []FacePhoto `json:"per_photo"`
	DecodeMedian float64     `json:"decode_median_ms"` // not part of the timed step
	// Skipped are the photos that could not be read or that the pipeline
	// failed on, with why; [] when none. One bad photo in a folder of a
	// thousand should not throw away the timings of the others.
	Skipped []data.Skipped `json:"skipped"`
}

// FacePhoto is one photo's line of FacesResult.
type FacePhoto struct {
	Image    string  `json:"image"`
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	MedianMS float64 `json:"median_ms"`
	Faces    int     `json:"faces"`
}

// FaceFinder is the face pipeline under test (faces.Pipeline).
type FaceFinder interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// FacesOptions are bench --faces's settings.
type FacesOptions struct {
	Steps, Warmup int // timed and untimed runs per photo
	// Progress, when not nil, is told after each photo how many are done:
	// a folder of a thousand photos takes minutes.
	Progress func(done, total int)
}

// Faces times the face pipeline (detect, landmarks, align, describe every
// face) on each of the files, already decoded: decoding is timed apart,
// since it depends on the file format rather than on starid. A photo that
// cannot be decoded or that the pipeline fails on is skipped and listed
// with why; if none is left to time, the error says so with the first
// reason.
func Faces(files []string, finder FaceFinder, opt FacesOptions) (*FacesResult, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no photos to time")
	}
	res := &FacesResult{Steps: opt.Steps, Threads: runtime.GOMAXPROCS(0), Backend: tensor.Backend,
		Kernel: tensor.KernelFamily(), Pipeline: faces.PipelineVersion, Skipped: []data.Skipped{}}
	var medians, decodes []float64
	for i, path := range files {
		p, decode, err := timePhoto(path, finder, opt)
		if err != nil {
			reason := err.Error()
			if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
				reason = ie.Reason // without the path the list already shows
			}
			res.Skipped = append(res.Skipped, data.Skipped{Path: path, Reason: reason})
		} else {
			decodes = append(decodes, decode)
			medians = append(medians, p.MedianMS)
			res.PerPhoto = append(res.PerPhoto, p)
			res.Faces += p.Faces
			if p.Faces == 0 {
				res.NoFace++
			}
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(files))
		}
	}
	if len(medians) == 0 {
		s := res.Skipped[0]
		return nil, fmt.Errorf("no photo could be timed: all %d skipped, the first %s: %s", len(res.Skipped), data.ShowPath(s.Path), s.Reason)
	}
	sorted := slices.Clone(medians)
	slices.Sort(sorted)
	res.Photos = len(medians)
	res.MedianMS = Median(medians)
	res.MinMS = sorted[0]
	res.MaxMS = sorted[len(sorted)-1]
	res.P90MS = sorted[min(len(sorted)-1, (len(sorted)*9)/10)]
	for _, m := range medians {
		res.PassSeconds += m / 1000
	}
	res.DecodeMedian = Median(decodes)
	res.PeakRSSMB = PeakRSSMB()
	return res, nil
}

// timePhoto decodes one photo (timed apart, in ms) and times the pipeline
// on it.
func timePhoto(path string, finder FaceFinder, opt FacesOptions) (FacePhoto, float64, error) {
	t0 := time.Now()
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return FacePhoto{}, 0, err
	}
	decode := ms(time.Since(t0))
	fimg := faces.FromImage(img)
	var found []faces.Face
	r, err := Run(opt.Warmup, opt.Steps, func() error {
		var err error
		found, err = finder.Faces(fimg)
		return err
	})
	if err != nil {
		return FacePhoto{}, 0, err
	}
	return FacePhoto{Image: path, Width: fimg.W, Height: fimg.H, MedianMS: r.MedianMS, Faces: len(found)}, decode, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteText lists each photo (for up to 20) and the summary line.
func (r *FacesResult) WriteText(w io.Writer) error {
	if len(r.PerPhoto) <= 20 {
		for _, p := range r.PerPhoto {
			fmt.Fprintf(w, "%s (%dx%d): %d faces, median %.1f ms\n", p.Image, p.Width, p.Height, p.Faces, p.MedianMS)
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", data.ShowPath(s.Path), s.Reason)
	}
	_, err := fmt.Fprintf(w, "faces %s threads=%d gemm=%s: %d photos timed, %d skipped, median %.1f ms, p90 %.1f ms, min %.1f ms per photo (%d steps each); "+
		"one pass %.1f s; %d faces, %d photos without a face; decode median %.1f ms (not timed above); peak RSS %.0f MB\n",
		r.Pipeline, r.Threads, r.Kernel, r.Photos, len(r.Skipped), r.MedianMS, r.P90MS, r.MinMS, r.Steps,
		r.PassSeconds, r.Faces, r.NoFace, r.DecodeMedian, r.PeakRSSMB)
	return err
}

// FacesOn is Faces on the photos and folders of photos at paths
// (data.ListPhotos), so a whole data set can be timed.
func FacesOn(finder FaceFinder, paths []string, opt FacesOptions) (*FacesResult, error) {
	files, err := data.ListPhotos(paths)
	if err != nil {
		return nil, err
	}
	res, err := Faces(files, finder, opt)
	if err != nil {
		shown := make([]string, len(paths))
		for i, p := range paths {
			shown[i] = data.ShowPath(p)
		}
		return nil, fmt.Errorf("%s: %w", strings.Join(shown, ", "), err)
	}
	return res, nil
}
