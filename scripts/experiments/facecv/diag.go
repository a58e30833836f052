package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"starid/internal/library/knn"
)

// diag lists every face of the photos whose path contains one of the
// given strings: box, detector score and size, and the nearest centroid
// of the other photos' main faces with its distance.
func (e *env) diag(match []string) error {
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	if len(match) == 0 {
		var hist [11]int
		for _, p := range photos {
			top := 0.0
			for _, f := range p.Faces {
				top = max(top, f.Score)
			}
			hist[int(top*10)]++
		}
		fmt.Println("photos by best detector score (tenths):", hist)
	}
	for i, p := range photos {
		hit := false
		for _, m := range match {
			hit = hit || strings.Contains(p.Path, m)
		}
		if !hit {
			continue
		}
		var x [][]float32
		var y []int
		for j, q := range photos {
			if d := e.mainFace(q.Faces); d != nil && j != i {
				x, y = append(x, d), append(y, e.data.Samples[j].Class)
			}
		}
		near := nearest(centroidsOf(x, y, len(e.data.Classes)), knn.Distance)
		out := filepath.Join(e.out, fmt.Sprintf("diag-%d.png", i))
		if img, err := loadFaces(p.Path); err == nil {
			_ = drawFound(img, p.Faces, nil, out)
		}
		fmt.Printf("%s (main %d) %s\n", p.Path, mainIndex(e, p.Faces), out)
		for k, f := range p.Faces {
			c, d := near(f.Descriptor)
			fmt.Printf("  face %d: box %.0f,%.0f %.0fx%.0f score %.3f size %d -> %s %.3f\n",
				k, f.Box.X, f.Box.Y, f.Box.W, f.Box.H, f.Score, f.Size, e.data.Classes[c], d)
		}
	}
	return nil
}
