package data

import (
	"fmt"
	"image"
	"slices"
	"strings"
)

// GridSamples picks and decodes the photos of a sample grid of at most
// limit cells. With class it shows that class's first photos (in the
// scan's sorted file order); without, the first photo of each class, so one
// picture introduces every person. Labels are the class names; note hears
// about classes left out and photos that would not decode.
func GridSamples(ds *Dataset, class string, limit int, note func(string)) ([]image.Image, []string, error) {
	var picks []int // indices into ds.Samples
	if class != "" {
		ci := slices.Index(ds.Classes, class)
		if ci < 0 {
			return nil, nil, fmt.Errorf("%s has no class %q; its classes are %s", ds.Root, class, strings.Join(ds.Classes, ", "))
		}
		for i, s := range ds.Samples {
			if s.Class == ci {
				picks = append(picks, i)
			}
		}
		if len(picks) == 0 {
			return nil, nil, fmt.Errorf("class %q in %s has no usable photo", class, ds.Root)
		}
	} else {
		seen := make([]bool, len(ds.Classes))
		for i, s := range ds.Samples {
			if !seen[s.Class] {
				seen[s.Class] = true
				picks = append(picks, i)
			}
		}
		if len(picks) > limit {
			note(fmt.Sprintf("showing the first %d of %d classes (raise --rows or --cols for more)", limit, len(picks)))
		}
	}

	var imgs []image.Image
	var labels []string
	for _, i := range picks {
		if len(imgs) == limit {
			break
		}
		s := ds.Samples[i]
		img, err := DecodeFile(s.Path, DefaultMaxPixels)
		if err != nil {
			// Scan only checks headers and endings; a file broken in the
			// middle shows up here. Take the next one.
			note(fmt.Sprintf("skipped %v", err))
			continue
		}
		imgs = append(imgs, img)
		labels = append(labels, ds.Classes[s.Class])
	}
	if len(imgs) == 0 {
		return nil, nil, fmt.Errorf("no photo in %s could be decoded", ds.Root)
	}
	return imgs, labels, nil
}
