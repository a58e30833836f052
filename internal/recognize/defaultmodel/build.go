package defaultmodel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/runs"
	"starid/internal/train"
)

// TrainConfig is `starid train DATA --model face --out OUT` with every
// setting at the command line's default: the split (80/20, seed 1), the
// head's training (60 epochs of Adam at 1e-3, batch 32) and the unknown
// rule's calibration (2% of known training faces rejected).
func TrainConfig(dataDir, out string) identify.TrainConfig {
	s := train.DefaultConfig().Settings
	s.Data, s.Out, s.Model = dataDir, out, runs.ModelFace
	s.Epochs, s.LR, s.Schedule = identify.DefaultEpochs, identify.DefaultLR, identify.DefaultSchedule
	s.Size, s.CropMargin = 0, 0 // the face pipeline picks the crops
	return identify.TrainConfig{Settings: s, PipelineVersion: faces.PipelineVersion}
}

// Report is what Build made.
type Report struct {
	Classes []string
	Train   int // training photos
	// HeldOut is the held-out split the model was not trained on,
	// answered by the written model.
	HeldOut Accuracy
	// HeldOutX and HeldOutY are the held-out photos' descriptors (nil for
	// a photo without a face) and class indices, to score other models on.
	HeldOutX [][]float32
	HeldOutY []int
	Bytes    int64 // size of the written files
}

// Accuracy is a model's score on held-out photos (a photo without a face
// is wrong).
type Accuracy struct {
	N         int
	Closed    float64 // the head's arg-max
	Open      float64 // with the unknown rule ("unknown" is wrong)
	Unknown   int     // known faces answered "unknown"
	NoFace    int
	Confusion map[string]int `json:"-"` // "true -> answered" for the wrong ones
}

// Build trains the default model from dataDir, a photo folder with one
// sub-folder per person, as `train --model face` does with its defaults
// (TrainConfig; descriptors through cache), then writes into outDir only
// what the built-in model ships (Strip), and scores the written model on
// the run's held-out split.
func Build(ctx context.Context, dataDir, outDir string, d identify.Describer, cache *identify.Cache, out runs.Output) (*Report, error) {
	tmp, err := os.MkdirTemp("", "starid-default-model-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cfg := TrainConfig(dataDir, filepath.Join(tmp, "run"))
	cfg.Cache = cache
	res, err := identify.Train(ctx, cfg, d, out)
	if err != nil {
		return nil, err
	}
	run, err := identify.OpenFaceRun(res.Dir)
	if err != nil {
		return nil, err
	}
	Strip(run)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	if err := run.WriteTo(outDir); err != nil {
		return nil, err
	}
	rep := &Report{Classes: run.Model.Classes, Train: res.Train}
	for _, f := range []string{runs.ModelInfoFile, runs.BestFile} {
		if fi, err := os.Stat(filepath.Join(outDir, f)); err == nil {
			rep.Bytes += fi.Size()
		}
	}
	written, err := identify.OpenFaceRunFS(os.DirFS(outDir), outDir)
	if err != nil {
		return nil, err
	}
	x, y, err := HeldOut(ctx, res.Dir, d, cache)
	if err != nil {
		return nil, err
	}
	rep.HeldOut, rep.HeldOutX, rep.HeldOutY = Score(written, x, y), x, y
	return rep, nil
}

// Strip keeps of a trained face run only what the built-in model ships:
// the per-photo training descriptors become a per-class summary, and the
// paths, times and build of the machine that trained it are dropped, so
// that the files say nothing of where the photos were and rebuilding
// gives the same bytes.
func Strip(run *identify.FaceRun) {
	run.Model.Summarize()
	i := &run.Info
	i.Data, i.Config.Data, i.Config.Out, i.Config.Workers = "", "", "", 0
	i.Created, i.StaridVersion = "", ""
	run.Face.NoFace, run.Face.Excluded, run.Face.Enrolled = nil, nil, nil
}

// HeldOut describes the held-out (test) photos of the run in runDir, as
// its split.json lists them in its training folder: the largest face's
// descriptor of each (nil when none was found) and its class index in
// the run's class list.
func HeldOut(ctx context.Context, runDir string, d identify.Describer, cache *identify.Cache) ([][]float32, []int, error) {
	info, err := runs.ReadModelInfo(runDir)
	if err != nil {
		return nil, nil, err
	}
	split, err := data.ReadSplit(filepath.Join(runDir, runs.SplitFile))
	if err != nil {
		return nil, nil, err
	}
	ds, err := data.Scan(info.Data, data.ScanOptions{})
	if err != nil {
		return nil, nil, err
	}
	_, test, err := split.Indices(ds)
	if err != nil {
		return nil, nil, err
	}
	paths, keys := make([]string, len(test)), make([]string, len(test))
	y := make([]int, len(test))
	for r, i := range test {
		s := ds.Samples[i]
		paths[r], keys[r] = s.Path, s.SHA256
		if y[r] = slices.Index(info.Classes, ds.Classes[s.Class]); y[r] < 0 {
			return nil, nil, fmt.Errorf("%s: class %s is not one of the run's", s.Path, ds.Classes[s.Class])
		}
	}
	photos, _, err := identify.Describe(ctx, d, paths, keys, identify.DescribeOptions{Cache: cache})
	if err != nil {
		return nil, nil, err
	}
	x := make([][]float32, len(photos))
	for r, p := range photos {
		if p.Err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.Path, p.Err)
		}
		if f := p.Largest(); f != nil {
			x[r] = f.Descriptor
		}
	}
	return x, y, nil
}

// Score answers every held-out descriptor with the run's model and rule.
func Score(run *identify.FaceRun, x [][]float32, y []int) Accuracy {
	a := Accuracy{N: len(x), Confusion: map[string]int{}}
	rule := run.Rule()
	classes := run.Model.Classes
	closed, open := 0, 0
	for i, v := range x {
		if v == nil {
			a.NoFace++
			continue
		}
		ans := run.Model.Identify(v, rule, 1)
		if ans.Best == y[i] {
			closed++
		}
		switch ans.Class {
		case y[i]:
			open++
		case eval.Unknown:
			a.Unknown++
		default:
			a.Confusion[classes[y[i]]+" -> "+ans.Name]++
		}
	}
	a.Closed = float64(closed) / float64(max(a.N, 1))
	a.Open = float64(open) / float64(max(a.N, 1))
	return a
}
