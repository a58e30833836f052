package data

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// SynthShapes are the classes Synthesize can draw, in order.
var SynthShapes = []string{"circle", "square", "triangle", "cross", "ring", "bar"}

// Synthesize writes an ImageFolder of generated photos: perClass PNGs of
// size x size pixels for each of the first `classes` shapes in SynthShapes,
// each shape in a random colour, position and scale on a noisy background
// of another colour. It is the built-in data set for the README's demo and
// for trying starid on a machine with no photos: the class is the shape, so
// a model has to learn spatial features, as with faces. The same seed gives
// the same files.
func Synthesize(dir string, classes, perClass, size int, seed uint64) error {
	if classes < 2 || classes > len(SynthShapes) {
		return fmt.Errorf("synthesize: classes must be 2..%d, got %d", len(SynthShapes), classes)
	}
	if perClass < 1 || size < 16 || size > 1024 {
		return fmt.Errorf("synthesize: need at least one image per class and a size of 16..1024 pixels, got %d and %d", perClass, size)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for c := 0; c < classes; c++ {
		sub := filepath.Join(dir, SynthShapes[c])
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		for i := 0; i < perClass; i++ {
			img := drawShape(rng, SynthShapes[c], size)
			if err := writePNG(filepath.Join(sub, fmt.Sprintf("%s_%03d.png", SynthShapes[c], i)), img); err != nil {
				return err
			}
		}
	}
	return nil
}

func drawShape(rng *rand.Rand, shape string, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := [3]float64{rng.Float64() * 120, rng.Float64() * 120, rng.Float64() * 120}
	fg := [3]float64{110 + rng.Float64()*145, 110 + rng.Float64()*145, 110 + rng.Float64()*145}
	s := float64(size)
	r := s * (0.18 + 0.14*rng.Float64())
	cx := r + rng.Float64()*(s-2*r)
	cy := r + rng.Float64()*(s-2*r)
	th := math.Max(1.5, r*0.3) // stroke half-width
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			var in bool
			switch shape {
			case "circle":
				in = dx*dx+dy*dy <= r*r
			case "square":
				in = math.Abs(dx) <= r*0.85 && math.Abs(dy) <= r*0.85
			case "triangle":
				// Apex up: inside when below the two slanted edges and above the base.
				in = dy <= r*0.8 && dy >= -r && math.Abs(dx) <= (dy+r)*0.6
			case "cross":
				in = (math.Abs(dx) <= th && math.Abs(dy) <= r) || (math.Abs(dy) <= th && math.Abs(dx) <= r)
			case "ring":
				d := math.Sqrt(dx*dx + dy*dy)
				in = d <= r && d >= r-2*th
			case "bar":
				in = math.Abs(dy) <= th && math.Abs(dx) <= r
			}
			var px [3]uint8
			for k := 0; k < 3; k++ {
				v := bg[k]
				if in {
					v = fg[k]
				}
				v += rng.NormFloat64() * 12
				px[k] = uint8(math.Max(0, math.Min(255, v)))
			}
			img.SetRGBA(x, y, color.RGBA{px[0], px[1], px[2], 255})
		}
	}
	return img
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
