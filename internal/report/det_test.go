package report

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"starid/internal/eval"
)

func TestDETWritesPNG(t *testing.T) {
	pts := eval.DET([]float64{0.3, 0.4, 0.5, 0.9}, []float64{0.7, 0.8, 1.2})
	path := filepath.Join(t.TempDir(), "det.png")
	if err := DET(pts, eval.DETPoint{FAR: 0, FRR: 0.25}, "strangers", path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != DETWidth || cfg.Height != DETHeight {
		t.Errorf("size %dx%d, want %dx%d", cfg.Width, cfg.Height, DETWidth, DETHeight)
	}
	if err := DET(nil, eval.DETPoint{}, "x", path); err == nil {
		t.Error("no points: want an error")
	}
}
