package identify

import (
	"errors"
	"slices"

	"starid/internal/runs"
)

// NewTrainConfig is `train --model face`'s configuration from the shared
// run settings: the face trainer's own defaults for what the command line
// did not set (s.Given names what it did), the crops left to the face
// pipeline, and the checks. exclude lists the class folders kept out as
// strangers.
func NewTrainConfig(s runs.Settings, exclude []string, pipelineVersion string) (TrainConfig, error) {
	given := func(name string) bool { return slices.Contains(s.Given, name) }
	if !given("epochs") {
		s.Epochs = DefaultEpochs
	}
	if !given("lr") {
		s.LR = DefaultLR
	}
	if !given("schedule") {
		s.Schedule = DefaultSchedule
	}
	if given("size") {
		return TrainConfig{}, errors.New("--size does not apply to --model face (the face pipeline chooses its own crops)")
	}
	s.Size, s.CropMargin = 0, 0 // the pipeline picks the crops
	fc := TrainConfig{Settings: s, PipelineVersion: pipelineVersion, Exclude: exclude}
	return fc, fc.Check()
}

// OpenCache is the descriptor cache for pipeline version under root (a
// --cache folder), or when root is "" under $STARID_CACHE or the user's
// cache folder. The error says why there is none; commands then work
// uncached.
func OpenCache(root, version string) (*Cache, error) {
	dir := CacheDirUnder(root, version)
	if root == "" {
		var err error
		if dir, err = DefaultCacheDir(version); err != nil {
			return nil, err
		}
	}
	return &Cache{Dir: dir, Version: version}, nil
}
