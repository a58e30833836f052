package faces

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// ssdGolden is testdata/ssd_golden.json, face-api's own SsdMobilenetv1 on
// the sample photos and the synthetic pattern (made by
// scripts/dev/faceapi/ssd_golden.sh).
type ssdGolden struct {
	MinConfidence float64 `json:"min_confidence"`
	IoU           float64 `json:"iou"`
	Images        []struct {
		File          string `json:"file"`
		Width, Height int
		Detections    []struct {
			Box   [4]float64 `json:"box"`
			Score float64    `json:"score"`
		} `json:"detections"`
		Raw ssdGoldenRaw `json:"raw"`
	} `json:"images"`
	Synthetic struct {
		Size int `json:"size"`
		ssdGoldenRaw
	} `json:"synthetic"`
}

// ssdGoldenRaw is the net's output before thresholds: sums over every
// prior and the best priors.
type ssdGoldenRaw struct {
	Anchors  int     `json:"anchors"`
	ScoreSum float64 `json:"score_sum"`
	BoxSum   float64 `json:"box_sum"`
	Top      []struct {
		Index int        `json:"index"`
		Score []float64  `json:"score"`
		Box   [4]float64 `json:"box"`
	} `json:"top"`
}

func loadSSDGolden(t *testing.T) *ssdGolden {
	t.Helper()
	p := filepath.Join("testdata", "ssd_golden.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("skipping: testdata/ssd_golden.json is not there (scripts/dev/faceapi/ssd_golden.sh makes it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	var g ssdGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return &g
}

// checkSSDRaw compares raw output with face-api's: the best priors' boxes
// within 1e-3 of the square (half a pixel of the 512 input) and scores
// within 1e-3, and the sums over all 5,118 priors.
func checkSSDRaw(t *testing.T, what string, got *SSDRaw, want ssdGoldenRaw) {
	t.Helper()
	if want.Anchors != len(got.Scores) || len(want.Top) == 0 {
		t.Fatalf("%s: %d priors, golden %d with %d best", what, len(got.Scores), want.Anchors, len(want.Top))
	}
	worstBox, worstScore := 0.0, 0.0
	for _, w := range want.Top {
		b := got.Boxes[w.Index]
		worst := 0.0
		for k := range 4 {
			worst = max(worst, math.Abs(b[k]-w.Box[k]))
		}
		ds := math.Abs(got.Scores[w.Index] - w.Score[0])
		worstBox, worstScore = max(worstBox, worst), max(worstScore, ds)
		if worst > 1e-3 || ds > 1e-3 {
			t.Errorf("%s: prior %d: box %v score %.5f, golden %v score %.5f", what, w.Index, b, got.Scores[w.Index], w.Box, w.Score[0])
		}
	}
	t.Logf("%s: best %d priors within %.2g (box, of the square) and %.2g (score)", what, len(want.Top), worstBox, worstScore)
	scores, boxes := 0.0, 0.0
	for i, s := range got.Scores {
		scores += s
		for _, v := range got.Boxes[i] {
			boxes += v
		}
	}
	// Per-prior agreement of 1e-4 on average bounds the sums.
	if math.Abs(scores-want.ScoreSum) > 1e-4*float64(want.Anchors) || math.Abs(boxes-want.BoxSum) > 4e-4*float64(want.Anchors) {
		t.Errorf("%s: sums of scores %.4f and boxes %.4f, golden %.4f and %.4f", what, scores, boxes, want.ScoreSum, want.BoxSum)
	}
}

func TestSSDGoldenRaw(t *testing.T) {
	g := loadSSDGolden(t)
	s, _ := loadReal(t, LoadSSD)
	if g.Synthetic.Size != SSDSize {
		t.Fatalf("golden synthetic input is %d px, want %d", g.Synthetic.Size, SSDSize)
	}
	raw, err := s.Raw(goldenPattern(SSDSize))
	if err != nil {
		t.Fatal(err)
	}
	checkSSDRaw(t, "pattern", raw, g.Synthetic.ssdGoldenRaw)
}

func TestSSDGoldenPhotos(t *testing.T) {
	g := loadSSDGolden(t)
	s, dir := loadReal(t, LoadSSD)
	if g.IoU != SSDIoU {
		t.Fatalf("golden made with NMS IoU %g, the detector uses %g", g.IoU, SSDIoU)
	}
	for _, gi := range g.Images {
		img := loadPhoto(t, filepath.Join(dir, "demo", gi.File))
		if img.W != gi.Width || img.H != gi.Height {
			t.Fatalf("%s: decoded %dx%d, golden %dx%d", gi.File, img.W, img.H, gi.Width, gi.Height)
		}
		raw, err := s.Raw(img)
		if err != nil {
			t.Fatal(err)
		}
		checkSSDRaw(t, gi.File, raw, gi.Raw)
		got := raw.Detections(img.W, img.H, g.MinConfidence)
		matchGolden(t, fmt.Sprintf("%s (SSD)", gi.File), got, len(gi.Detections), func(i int) (Box, float64) {
			b := gi.Detections[i].Box
			return Box{b[0], b[1], b[2], b[3]}, gi.Detections[i].Score
		})
	}
}
