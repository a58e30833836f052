package main

import (
	"io"

	"starid/internal/recognize"
	"starid/internal/serve"
)

// loadGallery is `serve --gallery DIR`: one thumbnail per person
// (recognize.Gallery); finder may be nil.
func loadGallery(dir string, classes []string, finder faceFinder, stderr io.Writer) (serve.GalleryMap, error) {
	var f recognize.Finder
	if finder != nil {
		f = finder
	}
	g, err := recognize.Gallery(dir, classes, f, stderr)
	return serve.GalleryMap(g), err
}
