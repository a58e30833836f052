package faces_test

import (
	"fmt"

	"starid/internal/data"
	"starid/internal/faces"
)

// Find, align and describe every face in a photo. The nets' weights come
// from `starid models fetch`, so go test compiles this example but does
// not run it.
func ExamplePipeline_Faces() {
	dir, err := faces.ModelDir() // STARID_MODELS, or the user's cache
	if err != nil {
		fmt.Println(err) // says to run `starid models fetch`
		return
	}
	p, err := faces.LoadPipeline(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	photo, err := data.DecodeFile("portrait.jpg", data.DefaultMaxPixels) // EXIF orientation applied
	if err != nil {
		fmt.Println(err)
		return
	}
	found, err := p.Faces(faces.FromImage(photo)) // largest box first
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, f := range found {
		fmt.Printf("face %d: %.0f x %.0f at (%.0f, %.0f), score %.2f, %d landmarks, %d-D descriptor\n",
			i, f.Box.W, f.Box.H, f.Box.X, f.Box.Y, f.Score, len(f.Landmarks), len(f.Descriptor))
	}
	if len(found) > 1 { // two photos of one person are usually within 0.6
		fmt.Printf("descriptor distance between faces 0 and 1: %.2f\n",
			faces.Distance(found[0].Descriptor, found[1].Descriptor))
	}
	fmt.Println("main face:", faces.MainFace(found))
}

// MainFace picks the face a portrait is about: the largest among those the
// detector is nearly as sure of as its best. Here the loose low-score box
// (a detector's typical mistake) loses to the smaller sure one.
func ExampleMainFace() {
	face := func(w, score float64) faces.Face {
		return faces.Face{Detection: faces.Detection{Box: faces.Box{W: w, H: w}, Score: score}}
	}
	found := []faces.Face{face(80, 0.55), face(40, 0.93), face(30, 0.90)}
	faces.SortLargestFirst(found)
	for _, f := range found {
		fmt.Printf("%.0fx%.0f score %.2f\n", f.Box.W, f.Box.H, f.Score)
	}
	fmt.Println("main face:", faces.MainFace(found))
	// Output:
	// 80x80 score 0.55
	// 40x40 score 0.93
	// 30x30 score 0.90
	// main face: 1
}
