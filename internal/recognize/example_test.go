package recognize_test

import (
	"context"
	"fmt"

	"starid/internal/faces"
	"starid/internal/recognize"
)

// Name everyone in a photo with the built-in model of the 17 stars (or a
// run folder: recognize.Open("runs/faces", opt)). The face nets' weights
// come from `starid models fetch`, so go test compiles this example but
// does not run it.
func ExampleOpenDefault() {
	opt := recognize.Options{
		TopK: 3,
		// Load the face pipeline only when the model needs one (a
		// whole-photo VGG run does not).
		OpenFinder: func() (recognize.Finder, error) { return faces.LoadInstalled() },
	}
	r, err := recognize.OpenDefault(opt)
	if err != nil {
		fmt.Println(err)
		return
	}
	photo, err := recognize.Decode("group.jpg") // EXIF orientation applied
	if err != nil {
		fmt.Println(err) // names the file and the problem
		return
	}
	found, err := r.Recognize(context.Background(), photo)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range found { // largest face first
		a := f.Answer() // the JSON form predict and the HTTP API print
		if a.Unknown {
			fmt.Printf("%v: unknown (closest %s)\n", a.Box, a.Closest)
			continue
		}
		fmt.Printf("%v: %s %.0f%%\n", a.Box, a.Name, 100*a.Confidence)
	}
}
