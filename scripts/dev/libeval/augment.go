package main

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/library"
	"starid/internal/tensor"
)

// augment is one test-time variation of a face's aligned chip: the
// landmarks scaled, shifted (as a share of the box width) or turned about
// their centre, the pixels gamma-corrected or made grey, the chip
// mirrored.
type augment struct {
	Name   string
	Scale  float64 // 0: 1
	DX, DY float64 // shift, in box widths
	Turn   float64 // degrees
	Gamma  float64 // 0: 1
	Grey   bool
	Flip   bool
}

// augments are described once per face into the cache; the statistics
// then average any subset. "plain" is the pipeline's own descriptor.
var augments = []augment{
	{Name: "flip", Flip: true},
	{Name: "s0.92", Scale: 0.92}, {Name: "s0.92f", Scale: 0.92, Flip: true},
	{Name: "s1.08", Scale: 1.08}, {Name: "s1.08f", Scale: 1.08, Flip: true},
	{Name: "x-", DX: -0.03}, {Name: "x+", DX: 0.03},
	{Name: "y-", DY: -0.03}, {Name: "y+", DY: 0.03},
	{Name: "r-", Turn: -5}, {Name: "r+", Turn: 5},
	{Name: "g0.8", Gamma: 0.8}, {Name: "g1.25", Gamma: 1.25},
	{Name: "grey", Grey: true},
}

// cachedFace is one face of a photo with its descriptors: Aug[k] is
// augments[k]'s, present for the photo's main face and its surest face.
type cachedFace struct {
	Box        [4]float64
	Score      float64
	Landmarks  []faces.Point
	Descriptor []float32
	Aug        [][]float32
}

// cachedPhoto is a photo with its folder label and faces.
type cachedPhoto struct {
	Path, Label  string
	W, H         int
	Faces        []cachedFace
	Main, Surest int // face indexes, -1 without faces
}

// augCache is the file the described photos are kept in.
type augCache struct {
	Version string
	Augs    []augment
	Photos  []cachedPhoto
}

// loadOrDescribe reads the cache at file, or describes every photo with
// all augments and writes it there.
func loadOrDescribe(ctx context.Context, file string, paths, labels []string) (*augCache, error) {
	if f, err := os.Open(file); err == nil {
		defer f.Close()
		var c augCache
		if err := gob.NewDecoder(f).Decode(&c); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if c.Version != faces.PipelineVersion || len(c.Augs) != len(augments) || len(c.Photos) != len(paths) {
			return nil, fmt.Errorf("%s: made for another pipeline, augments or dataset; remove it", file)
		}
		return &c, nil
	}
	c, err := describeAugmented(ctx, paths, labels)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(file + ".tmp")
	if err != nil {
		return nil, err
	}
	if err := gob.NewEncoder(f).Encode(c); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return c, os.Rename(file+".tmp", file)
}

func describeAugmented(ctx context.Context, paths, labels []string) (*augCache, error) {
	photos, err := describePhotos(ctx, paths)
	if err != nil {
		return nil, err
	}
	p, err := faces.LoadInstalled()
	if err != nil {
		return nil, err
	}
	c := &augCache{Version: faces.PipelineVersion, Augs: augments, Photos: make([]cachedPhoto, len(paths))}
	errs := make([]error, len(paths))
	var mu sync.Mutex
	done := 0
	tensor.ForEach(len(paths), func(_, i int) {
		c.Photos[i], errs[i] = augmentPhoto(p, paths[i], labels[i], photos[i].Faces)
		mu.Lock()
		done++
		if done%50 == 0 {
			fmt.Fprintf(os.Stderr, "augmented %d of %d photos\n", done, len(paths))
		}
		mu.Unlock()
	})
	return c, errors.Join(errs...)
}

// augmentPhoto describes the main and surest faces of one photo with
// every augment.
func augmentPhoto(p *faces.Pipeline, path, label string, fs []faces.Face) (cachedPhoto, error) {
	cp := cachedPhoto{Path: path, Label: label, Main: faces.MainFace(fs), Surest: -1}
	for i, f := range fs {
		if cp.Surest < 0 || f.Score > fs[cp.Surest].Score {
			cp.Surest = i
		}
		cp.Faces = append(cp.Faces, cachedFace{Box: [4]float64{f.Box.X, f.Box.Y, f.Box.W, f.Box.H}, Score: f.Score, Landmarks: f.Landmarks, Descriptor: f.Descriptor})
	}
	if len(fs) == 0 {
		return cp, nil
	}
	img, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return cp, fmt.Errorf("%s: %w", path, err)
	}
	fimg := faces.FromImage(img)
	cp.W, cp.H = fimg.W, fimg.H
	for _, i := range []int{cp.Main, cp.Surest} {
		if cp.Faces[i].Aug != nil {
			continue
		}
		var chips []*faces.Image
		for _, a := range augments {
			chip, err := augmentedChip(p, fimg, fs[i], a)
			if err != nil {
				return cp, fmt.Errorf("%s: face %d, %s: %w", path, i, a.Name, err)
			}
			chips = append(chips, chip)
		}
		if cp.Faces[i].Aug, err = p.Rec.DescribeAll(chips); err != nil {
			return cp, fmt.Errorf("%s: %w", path, err)
		}
	}
	return cp, nil
}

// augmentedChip is face f's aligned chip under augment a.
func augmentedChip(p *faces.Pipeline, img *faces.Image, f faces.Face, a augment) (*faces.Image, error) {
	var cx, cy float64
	for _, q := range f.Landmarks {
		cx += q.X
		cy += q.Y
	}
	n := float64(len(f.Landmarks))
	cx, cy = cx/n, cy/n
	s := a.Scale
	if s == 0 {
		s = 1
	}
	sin, cos := math.Sincos(a.Turn * math.Pi / 180)
	pts := make([]faces.Point, len(f.Landmarks))
	for k, q := range f.Landmarks {
		x, y := s*(q.X-cx), s*(q.Y-cy)
		pts[k] = faces.Point{X: cx + cos*x - sin*y + a.DX*f.Box.W, Y: cy + sin*x + cos*y + a.DY*f.Box.W}
	}
	chip, err := faces.AlignedChip(img, pts, p.Template, nil)
	if err != nil {
		return nil, err
	}
	if a.Gamma != 0 {
		for k, v := range chip.Pix {
			chip.Pix[k] = float32(255 * math.Pow(float64(max(v, 0))/255, a.Gamma))
		}
	}
	if a.Grey {
		for k := 0; k < len(chip.Pix); k += 3 {
			g := 0.299*chip.Pix[k] + 0.587*chip.Pix[k+1] + 0.114*chip.Pix[k+2]
			chip.Pix[k], chip.Pix[k+1], chip.Pix[k+2] = g, g, g
		}
	}
	if a.Flip {
		library.Mirror(chip)
	}
	return chip, nil
}
