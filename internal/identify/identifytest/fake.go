// Package identifytest gives tests a face describer that needs no weights:
// photos are drawn as coloured squares on black, each square a "face" whose
// red value names a person and whose green and blue values move the
// descriptor a little around that person's point, so that descriptors of one
// person cluster and those of different people lie far apart, as real ones do.
package identifytest

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"starid/internal/faces"
)

// Persons is how many people the fake knows: person p is drawn with red
// value RedOf(p).
const Persons = 20

// RedOf is the red value of person p's face.
func RedOf(p int) uint8 { return uint8(100 + 7*p) }

// spread scales the green/blue offsets: a face lies within about 0.2 of
// its person's point, while people are about 1.4 apart.
const spread = 0.15

// Fake is a concurrency-safe Describer counting its calls. Faces are found
// separately in the left and right halves of the photo: the bounding box of
// the pixels whose red value is at least 50 is one face.
type Fake struct {
	calls atomic.Int64
	// Fail, when set, makes every call fail with this error.
	Fail error
}

// Calls is the number of photos described so far.
func (f *Fake) Calls() int { return int(f.calls.Load()) }

var (
	basesOnce sync.Once
	bases     [Persons][3][]float32 // per person: point, green direction, blue direction
)

func base(p int) [3][]float32 {
	basesOnce.Do(func() {
		r := rand.New(rand.NewPCG(42, 4242))
		for q := range bases {
			for k := range 3 {
				v := make([]float32, 128)
				var n float64
				for j := range v {
					v[j] = float32(r.NormFloat64())
					n += float64(v[j]) * float64(v[j])
				}
				for j := range v {
					v[j] /= float32(math.Sqrt(n))
				}
				bases[q][k] = v
			}
		}
	})
	return bases[p]
}

// Descriptor is the descriptor the fake gives a face of person p drawn
// with green g and blue b.
func Descriptor(p int, g, b uint8) []float32 {
	bs := base(p)
	dg, db := spread*(float32(g)-128)/128, spread*(float32(b)-128)/128
	out := make([]float32, 128)
	for j := range out {
		out[j] = bs[0][j] + dg*bs[1][j] + db*bs[2][j]
	}
	return out
}

// Faces implements identify.Describer.
func (f *Fake) Faces(img *faces.Image) ([]faces.Face, error) {
	f.calls.Add(1)
	if f.Fail != nil {
		return nil, f.Fail
	}
	var out []faces.Face
	half := img.W / 2
	for _, xr := range [][2]int{{0, half}, {half, img.W}} {
		x0, y0, x1, y1 := img.W, img.H, -1, -1
		for y := range img.H {
			for x := xr[0]; x < xr[1]; x++ {
				if img.At(x, y, 0) >= 50 {
					x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
				}
			}
		}
		if x1 < 0 {
			continue
		}
		cx, cy := (x0+x1)/2, (y0+y1)/2
		red := img.At(cx, cy, 0)
		p := int(math.Round(float64(red-100) / 7))
		if p < 0 || p >= Persons {
			p = 0
		}
		box := faces.Box{X: float64(x0), Y: float64(y0), W: float64(x1 - x0 + 1), H: float64(y1 - y0 + 1)}
		out = append(out, faces.Face{Detection: faces.Detection{Box: box, Score: 0.9},
			Descriptor: Descriptor(p, uint8(img.At(cx, cy, 1)), uint8(img.At(cx, cy, 2)))})
	}
	// Largest first, as the real pipeline answers.
	if len(out) == 2 && out[1].Box.Area() > out[0].Box.Area() {
		out[0], out[1] = out[1], out[0]
	}
	return out, nil
}

// Face is one square to draw: person P at (X, Y) with side Size, green G
// and blue B. Left-half faces must lie in the left half, and so on.
type Face struct {
	P, X, Y, Size int
	G, B          uint8
}

// WritePhoto draws a W x H black PNG with the given faces at path.
func WritePhoto(path string, w, h int, fs ...Face) error {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	for _, f := range fs {
		c := color.RGBA{R: RedOf(f.P), G: f.G, B: f.B, A: 255}
		for y := f.Y; y < f.Y+f.Size; y++ {
			for x := f.X; x < f.X+f.Size; x++ {
				img.SetRGBA(x, y, c)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(file, img); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// RandomFace is a face of person p with random colour offsets, placed in
// the left half of a 64x48 photo.
func RandomFace(r *rand.Rand, p int) Face {
	size := 8 + r.IntN(12)
	return Face{P: p, X: r.IntN(32 - size), Y: r.IntN(48 - size), Size: size,
		G: uint8(r.IntN(256)), B: uint8(r.IntN(256))}
}

// Folder writes dir/<name>/NN.png: perPerson 64x48 photos of one face of
// each person names[i] (person i), seeded.
func Folder(dir string, names []string, perPerson int, seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 1))
	for p, name := range names {
		for i := range perPerson {
			path := filepath.Join(dir, name, string(rune('0'+i/10))+string(rune('0'+i%10))+".png")
			if err := WritePhoto(path, 64, 48, RandomFace(r, p)); err != nil {
				return err
			}
		}
	}
	return nil
}

// AugmentFace gives, for each of n augmentations, the face's descriptor
// moved a little (about a tenth of a person's spread) in a direction of its
// own, as a real perturbation moves a descriptor without changing whose it
// is. It counts as a call.
func (f *Fake) AugmentFace(img *faces.Image, face faces.Face, n int) ([][]float32, error) {
	f.calls.Add(1)
	if f.Fail != nil {
		return nil, f.Fail
	}
	out := make([][]float32, n)
	for k := range out {
		d := make([]float32, len(face.Descriptor))
		for j, v := range face.Descriptor {
			d[j] = v + 0.02*float32(math.Sin(float64(7*k+j)))
		}
		out[k] = d
	}
	return out, nil
}
