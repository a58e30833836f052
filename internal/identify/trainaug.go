package identify

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"

	"starid/internal/data"
	"starid/internal/faces"
)

// augmentTraining describes the main face of each training photo
// photos[from[r]] (labelled y[r]) under DefaultAugmentations and returns
// the training set grown by those descriptors: rows x first, then the
// copies, with group naming each row's photo (its row in x), as
// CalibrateGroups takes them. The copies go through a cache beside the
// descriptors' (c nil: none), so a second run over the same photos
// describes nothing again.
func augmentTraining(ctx context.Context, d Describer, c *Cache, photos []Photo, x [][]float32, y, from []int,
	progress func(done, total int)) ([][]float32, []int, []int, error) {
	aug, err := augmenterOf(d)
	if err != nil {
		return nil, nil, nil, err
	}
	augs := DefaultAugmentations()
	var ac *Cache
	if c != nil {
		ac = &Cache{Dir: filepath.Join(c.Dir, "augmented"), Version: c.Version + "+" + augmentVersion}
	}
	xa, ya := append([][]float32(nil), x...), append([]int(nil), y...)
	group := make([]int, len(x), len(x)*(1+len(augs)))
	for r := range x {
		group[r] = r
	}
	for r, i := range from {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		ds, err := augmentPhoto(aug, ac, &photos[i], augs)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, v := range ds {
			xa, ya, group = append(xa, v), append(ya, y[r]), append(group, r)
		}
		if progress != nil {
			progress(r+1, len(from))
		}
	}
	return xa, ya, group, nil
}

// augmentPhoto is the augmented descriptors of p's main face, from the
// cache or described and cached.
func augmentPhoto(aug Augmenter, ac *Cache, p *Photo, augs []Augmentation) ([][]float32, error) {
	main := p.Largest()
	if main == nil {
		return nil, fmt.Errorf("%s: no face to augment", p.Path)
	}
	// An unreadable entry is a miss: described again, and Put replaces it.
	if found, ok, _ := ac.Get(p.Key); ok && len(found) == len(augs) {
		out := make([][]float32, len(found))
		for j, f := range found {
			out[j] = f.Descriptor
		}
		return out, nil
	}
	b, err := data.ReadFile(p.Path, 0)
	if err != nil {
		return nil, err
	}
	rgba, err := data.Decode(bytes.NewReader(b), p.Path, data.DefaultMaxPixels)
	if err != nil {
		return nil, err
	}
	ds, err := aug.AugmentFace(faces.FromImage(rgba), *main, augs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Path, err)
	}
	if len(ds) != len(augs) {
		return nil, fmt.Errorf("%s: %d augmented descriptors for %d augmentations", p.Path, len(ds), len(augs))
	}
	entry := make([]faces.Face, len(ds))
	for j, v := range ds {
		if len(v) != DescriptorLen || !finite(v) {
			return nil, fmt.Errorf("%s: augmentation %s gave a bad descriptor", p.Path, augs[j].Name)
		}
		entry[j] = faces.Face{Detection: main.Detection, Descriptor: v}
	}
	// A cache that cannot be written costs only time on the next run.
	_ = ac.Put(p.Key, entry)
	return ds, nil
}
