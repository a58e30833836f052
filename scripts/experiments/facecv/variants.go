package main

import (
	"fmt"
	"maps"
	"slices"

	"starid/internal/faces"
	"starid/internal/identify"
)

// variant is one way to find and describe faces; base is the pipeline as
// it ships.
type variant struct {
	sizes  []int // detector sizes
	pooled bool  // run every size and merge (DetectMulti) instead of falling back
	mirror bool  // average the descriptor with that of the mirrored chip
	// unsure, when set, replaces the pipeline's Pipeline.Unsure, and
	// version names the cache (a released pipeline's, to share its cache).
	unsure  *float64
	version string
	// ssd, when set, replaces the pipeline's Pipeline.SSDUse.
	ssd *faces.SSDUse
}

func ptr(v float64) *float64 { return &v }

var variants = map[string]variant{
	"base":     {},
	"pooled":   {sizes: []int{320, 416, 608}, pooled: true},
	"mirror":   {mirror: true},
	"pooled+m": {sizes: []int{320, 416, 608}, pooled: true, mirror: true},
	// starid-4: the bordered look only for photos without any face.
	"starid-4": {unsure: ptr(0), version: "face-api-1.7.15/starid-4"},
	"unsure.8": {unsure: ptr(0.8)},
	// starid-7: no SSD look (the pipeline before the second detector).
	"starid-7": {ssd: ssdUse(0), version: "face-api-1.7.15/starid-7"},
	// ssd-groups: the SSD for group photos only, not for unsure ones.
	"ssd-groups": {ssd: ssdUse(faces.SSDForGroups)},
}

func ssdUse(u faces.SSDUse) *faces.SSDUse { return &u }

func variantNames() []string {
	return slices.Sorted(maps.Keys(variants))
}

// describer gives the variant's Describer and the cache version it
// describes under (the shipped pipeline's own for base, so starid's cache
// is shared).
func (e *env) describer() (identify.Describer, string, error) {
	v, ok := variants[e.variant]
	if !ok {
		return nil, "", fmt.Errorf("unknown variant %q: want one of %v", e.variant, variantNames())
	}
	if e.variant == "base" {
		return e.pipe, faces.PipelineVersion, nil
	}
	if v.unsure != nil || v.ssd != nil {
		p := *e.pipe
		if v.unsure != nil {
			p.Unsure = *v.unsure
		}
		if v.ssd != nil {
			p.SSDUse = *v.ssd
		}
		version := v.version
		if version == "" {
			version = faces.PipelineVersion + "+facecv-" + e.variant
		}
		return &p, version, nil
	}
	return &variantDescriber{p: e.pipe, v: v}, faces.PipelineVersion + "+facecv-" + e.variant, nil
}

type variantDescriber struct {
	p *faces.Pipeline
	v variant
}

func (d *variantDescriber) Faces(img *faces.Image) ([]faces.Face, error) {
	sizes := d.p.Sizes
	if d.v.sizes != nil {
		sizes = d.v.sizes
	}
	var dets []faces.Detection
	var err error
	if d.v.pooled {
		dets, err = d.p.Det.DetectMulti(img, sizes, d.p.MinScore)
	} else {
		dets, err = d.p.Det.DetectFallback(img, sizes, d.p.MinScore)
	}
	if err != nil {
		return nil, err
	}
	faces.SortLargestFirst(dets)
	var out []faces.Face
	for _, det := range dets {
		if img.ClipBox(det.Box).Empty() {
			continue
		}
		marks, err := d.p.Marks.Landmarks(img, det.Box)
		if err != nil {
			return nil, err
		}
		chip, err := faces.AlignedChip(img, marks, d.p.Template, nil)
		if err != nil {
			return nil, err
		}
		desc, err := d.p.Rec.Describe(chip)
		if err != nil {
			return nil, err
		}
		if d.v.mirror {
			m, err := d.p.Rec.Describe(mirrored(chip))
			if err != nil {
				return nil, err
			}
			for i := range desc {
				desc[i] = (desc[i] + m[i]) / 2
			}
		}
		out = append(out, faces.Face{Detection: det, Landmarks: marks, Descriptor: slices.Clone(desc)})
	}
	return out, nil
}

// mirrored flips a chip left to right, as the training augmentation does.
func mirrored(m *faces.Image) *faces.Image {
	for _, a := range identify.DefaultAugmentations() {
		if a.Name == "mirror" {
			c, err := a.Chip(m)
			if err != nil {
				panic(err) // a mirror cannot fail
			}
			return c
		}
	}
	panic("identify has no mirror augmentation")
}
