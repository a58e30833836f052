//go:build !amd64

package nn

// Without the amd64 kernels every tile transform runs in Go.

func wgInputVector(g wgGeom, x []float32, ts []wgTile, v []float32) int { return 0 }

func wgGradVector(g wgGeom, dy []float32, ts []wgTile, z []float32) int { return 0 }

func wgOutputVector(g wgGeom, m []float32, ts []wgTile, bias, out []float32) {
	wgOutputRange(g, m, ts, 0, len(ts), bias, out)
}

func wgFiltersVector(w []float32, o, i int, flip bool, u []float32, lo, hi int) int { return 0 }

func wgFilterGradsVector(du []float32, span, lo, hi int, dw []float32) int { return lo }
