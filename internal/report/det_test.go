package report

import (
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
	decode(t, path, DETWidth, DETHeight)
	if err := DET(nil, eval.DETPoint{}, "x", path); err == nil {
		t.Error("no points: want an error")
	}
}
