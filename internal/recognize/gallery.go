package recognize

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/draw"

	"starid/internal/data"
	"starid/internal/faces"
)

// The web page lists the people a model knows; `serve --gallery DIR` gives
// each a small picture, cut from a photo folder laid out as for training
// (DIR/NAME/*.jpg). Thumbnails are made once at start, so a request never
// touches the folder.

// Thumbnail geometry: the side in pixels, the room around a face (share of
// the box's longer side on each side) and how many photos of a person are
// tried for a face before the first readable one is taken as it is.
const (
	ThumbSide    = 128
	thumbMargin  = 0.3
	ThumbTries   = 5
	thumbQuality = 85
)

// Gallery makes one JPEG thumbnail per class that has a readable photo
// in dir/CLASS. finder may be nil (no face models): each thumbnail is then
// a square from the top-middle of the photo, where a portrait's face
// usually is. People without a usable photo are named on stderr and get
// none; the page shows their initials instead.
func Gallery(dir string, classes []string, finder Finder, stderr io.Writer) (map[string][]byte, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("--gallery: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("--gallery: %s is not a folder", dir)
	}
	g := map[string][]byte{}
	var missing []string
	for _, name := range classes {
		thumb, err := classThumbnail(filepath.Join(dir, name), finder)
		if err != nil {
			return nil, err
		}
		if thumb == nil {
			missing = append(missing, name)
			continue
		}
		g[name] = thumb
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "gallery: no readable photo in %s for %d of %d people: %s\n",
			dir, len(missing), len(classes), strings.Join(missing, ", "))
	}
	return g, nil
}

// classThumbnail is the thumbnail of the first of a person's photos (in
// name order) that shows a face, or of the first readable one when none of
// the first ThumbTries readable photos does; nil when nothing is readable.
// Unreadable files are skipped, as training skips them; only a failure of
// the face pipeline itself is an error.
func classThumbnail(folder string, finder Finder) ([]byte, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, nil // no folder for this person: no picture
	}
	var first *image.RGBA
	tried := 0
	for _, e := range entries {
		if tried == ThumbTries {
			break
		}
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		img, err := data.DecodeFile(filepath.Join(folder, e.Name()), 0)
		if err != nil {
			continue
		}
		photo := FromRGBA(img)
		tried++
		if first == nil {
			first = img
		}
		if finder == nil {
			break
		}
		found, err := finder.Faces(photo.Faces())
		if err != nil {
			return nil, fmt.Errorf("gallery: %s: %w", filepath.Join(folder, e.Name()), err)
		}
		if i := faces.MainFace(found); i >= 0 {
			return encodeThumb(img, ThumbRect(img.Bounds(), &found[i].Box))
		}
	}
	if first == nil {
		return nil, nil
	}
	return encodeThumb(first, ThumbRect(first.Bounds(), nil))
}

// ThumbRect is the square a thumbnail shows: around box with thumbMargin
// to spare, or without a box the largest square at the top-middle, moved
// and shrunk as needed to stay inside the photo.
func ThumbRect(b image.Rectangle, box *faces.Box) image.Rectangle {
	w, h := b.Dx(), b.Dy()
	if box == nil {
		side := min(w, h)
		x := b.Min.X + (w-side)/2
		y := b.Min.Y + (h-side)/3
		return image.Rect(x, y, x+side, y+side)
	}
	side := int(math.Round(max(box.W, box.H) * (1 + 2*thumbMargin)))
	side = max(1, min(side, w, h))
	cx, cy := box.X+box.W/2, box.Y+box.H/2
	x := int(math.Round(cx - float64(side)/2))
	y := int(math.Round(cy - float64(side)/2))
	x = min(max(x, b.Min.X), b.Max.X-side)
	y = min(max(y, b.Min.Y), b.Max.Y-side)
	return image.Rect(x, y, x+side, y+side)
}

// encodeThumb scales r of img to ThumbSide square and encodes it as JPEG.
func encodeThumb(img *image.RGBA, r image.Rectangle) ([]byte, error) {
	dst := image.NewRGBA(image.Rect(0, 0, ThumbSide, ThumbSide))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, r, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: thumbQuality}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
