package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
)

// augCache holds, per photo, the descriptors of its main face (faces.MainFace)
// under each augmentation: /tmp/acc/aug/<pipeline dir>/<photo key>.json, a
// map from augmentation name to descriptor. A photo is described again only
// for the augmentations its file lacks, so one can be added cheaply.
const augRoot = "/tmp/acc/aug"

// augmented returns, for each photo, its main face's descriptor per
// augmentation name (nil for photos without a face). Only the names asked
// for are computed and returned.
func (e *env) augmented(photos []identify.Photo, names []string) ([]map[string][]float32, error) {
	all := identify.DefaultAugmentations()
	var augs []identify.Augmentation
	for _, n := range names {
		found := false
		for _, a := range all {
			if a.Name == n || strings.HasPrefix(a.Name, n+"@") || (n == "blur" && strings.HasPrefix(a.Name, "blur")) {
				augs, found = append(augs, a), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no augmentation %q", n)
		}
	}
	dir := filepath.Join(augRoot, identify.VersionDir(faces.PipelineVersion))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := make([]map[string][]float32, len(photos))
	computed := 0
	for i, p := range photos {
		mi := faces.MainFace(p.Faces)
		if mi < 0 || p.Key == "" {
			continue
		}
		path := filepath.Join(dir, p.Key+".json")
		have := map[string][]float32{}
		if b, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(b, &have); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		var missing []identify.Augmentation
		for _, a := range augs {
			if _, ok := have[a.Name]; !ok {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			rgba, err := data.DecodeFile(p.Path, data.DefaultMaxPixels)
			if err != nil {
				return nil, err
			}
			ds, err := identify.Augment(e.pipe, faces.FromImage(rgba), p.Faces[mi], missing)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Path, err)
			}
			for j, a := range missing {
				have[a.Name] = ds[j]
			}
			b, err := json.Marshal(have)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				return nil, err
			}
			computed++
			if computed%50 == 0 {
				fmt.Fprintf(os.Stderr, "augmented %d photos (%d of %d)\n", computed, i+1, len(photos))
			}
		}
		out[i] = map[string][]float32{}
		for _, a := range augs {
			out[i][a.Name] = have[a.Name]
		}
	}
	return out, nil
}
