package identify

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/identify/identifytest"
	"starid/internal/safetensors"
)

// summarizedModel fits 4 fake people, 20 descriptors each, and folds the
// descriptors into a summary; it returns the model and held-out faces.
func summarizedModel(t *testing.T) (*Model, [][]float32, []int, HeadConfig) {
	t.Helper()
	x, y, kx, ky := fakeFaces(rand.New(rand.NewPCG(5, 5)), 4)
	hc := HeadConfig{Epochs: 30, Batch: 16, Optimizer: "adam", LR: 1e-2, Seed: 1}
	m, err := Fit(context.Background(), []string{"a", "b", "c", "d"}, x, y, hc, nil)
	must(t, err)
	before := m.Centroids
	m.Summarize()
	for c := range before {
		for j := range before[c] {
			if math.Abs(float64(before[c][j]-m.Centroids[c][j])) > 1e-6 {
				t.Fatalf("centroid %d moved by summarizing", c)
			}
		}
	}
	return m, kx, ky, hc
}

// TestSummaryRoundTripAndRefit: a summarized model saves without any
// descriptor, loads back the same, and a refit with a new person from the
// summary names the old people's unseen faces and the new person's.
func TestSummaryRoundTripAndRefit(t *testing.T) {
	m, kx, ky, hc := summarizedModel(t)
	if len(m.Train) != 0 || m.Summary.Count[2] != 20 {
		t.Fatalf("summary %v, %d descriptors kept", m.Summary.Count, len(m.Train))
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	must(t, m.Save(path, "v", 1))
	f, err := safetensors.Open(path)
	must(t, err)
	_, hasX := f.Info(tTrainX)
	_, hasMean := f.Info(tSumMean)
	f.Close()
	if hasX || hasMean {
		t.Errorf("saved descriptors %v, summary means beside the centroids %v", hasX, hasMean)
	}
	back, _, err := LoadModel(path)
	must(t, err)
	if back.Summary == nil || back.Summary.Count[1] != 20 || back.Summary.Std[3][7] != m.Summary.Std[3][7] {
		t.Fatal("summary not loaded back")
	}
	add := [][]float32{identifytest.Descriptor(6, 120, 128), identifytest.Descriptor(6, 140, 128)}
	nm, err := back.refit(context.Background(), []string{"a", "b", "c", "d", "e"}, 4, add, hc)
	must(t, err)
	if len(nm.Train) != 2 || len(nm.Summary.Count) != 5 || nm.count(4) != 2 || nm.count(0) != 20 {
		t.Fatalf("refit keeps %d descriptors, summary %v", len(nm.Train), nm.Summary.Count)
	}
	open := Rule{MaxDistance: math.Inf(1)}
	for i, v := range kx {
		if a := nm.Identify(v, open, 1); a.Class != ky[i] {
			t.Errorf("held-out face of %d named %d after the refit", ky[i], a.Class)
		}
	}
	if a := nm.Identify(identifytest.Descriptor(6, 130, 128), open, 1); a.Class != 4 {
		t.Errorf("new person named %d", a.Class)
	}
	// Saved with kept descriptors, the summary's means travel too.
	must(t, nm.Save(path, "v", 1))
	again, _, err := LoadModel(path)
	must(t, err)
	if len(again.Train) != 2 || again.Summary.Mean[0][0] != nm.Summary.Mean[0][0] {
		t.Error("summary with descriptors not loaded back")
	}
}

// TestSummaryRefusesHostileCounts: a count that would make enroll draw
// without bound is refused naming the file.
func TestSummaryRefusesHostileCounts(t *testing.T) {
	m, _, _, _ := summarizedModel(t)
	m.Summary.Count[0] = maxSummarized + 1
	path := filepath.Join(t.TempDir(), "m.safetensors")
	must(t, m.Save(path, "v", 1))
	if _, _, err := LoadModel(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tSumN) {
		t.Errorf("err = %v", err)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	if _, _, err := ReadModel("embedded", b); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Errorf("ReadModel: err = %v", err)
	}
}

// fakeFaces draws 30 fake descriptors of each of people persons: 20 to fit
// on (x, y) and 10 held out (kx, ky).
func fakeFaces(r *rand.Rand, people int) (x [][]float32, y []int, kx [][]float32, ky []int) {
	for p := range people {
		for i := range 30 {
			d := identifytest.Descriptor(p, uint8(r.IntN(256)), uint8(r.IntN(256)))
			if i < 20 {
				x, y = append(x, d), append(y, p)
			} else {
				kx, ky = append(kx, d), append(ky, p)
			}
		}
	}
	return x, y, kx, ky
}
