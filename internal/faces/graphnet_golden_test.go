package faces

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"starid/internal/tensor"
)

// graphGolden is testdata/graph_golden.json: tfjs's own run of the
// descriptor graph models on the synthetic pattern (made by
// scripts/dev/faceapi/graph_golden.sh).
type graphGolden struct {
	Models []struct {
		Name   string  `json:"name"`
		Output string  `json:"output"`
		Mean   float32 `json:"mean"`
		Div    float32 `json:"div"`
		Size   int     `json:"size"`
		Cases  []struct {
			Mirror bool      `json:"mirror"`
			Output []float32 `json:"output"`
		} `json:"cases"`
	} `json:"models"`
}

// TestGraphNetGolden runs the real MobileFaceNet, MobileFace and FaceRes
// graphs on
// the golden pattern and compares every output value with tfjs's.
func TestGraphNetGolden(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "graph_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g graphGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("testdata/graph_golden.json: %v", err)
	}
	dir := modelDirOrSkip(t)
	for _, m := range g.Models {
		path := GraphModelPath(dir, m.Name)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("skipping: the descriptor nets are not installed (run `starid models fetch`): %v", err)
		}
		net, err := LoadGraphNet(path, GraphOptions{Output: m.Output})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range m.Cases {
			x := tensor.New(1, 3, m.Size, m.Size)
			plane := m.Size * m.Size
			for y := range m.Size {
				for xx := range m.Size {
					sx := xx
					if c.Mirror {
						sx = m.Size - 1 - xx
					}
					for ch := range 3 {
						v := float32((sx*7 + y*13 + ch*29) % 256)
						x.Data[ch*plane+y*m.Size+xx] = (v - m.Mean) / m.Div
					}
				}
			}
			got, err := net.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.Output) {
				t.Fatalf("%s: %d values, tfjs %d", m.Name, len(got), len(c.Output))
			}
			worst, scale := 0.0, 0.0
			for i := range got {
				worst = math.Max(worst, math.Abs(float64(got[i]-c.Output[i])))
				scale = math.Max(scale, math.Abs(float64(c.Output[i])))
			}
			t.Logf("%s mirror=%v: largest difference %.3g (largest value %.3g)", m.Name, c.Mirror, worst, scale)
			if worst > 1e-4*math.Max(1, scale) {
				t.Errorf("%s mirror=%v: differs from tfjs by up to %.3g", m.Name, c.Mirror, worst)
			}
		}
	}
}
