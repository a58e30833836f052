package identify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"starid/internal/data"
	"starid/internal/runs"
)

// FaceInfo is model.json's "face" object: what a face run adds to
// runs.ModelInfo. The distance threshold itself is ModelInfo.Unknown
// (unknown_threshold), so that every run keeps its threshold in one place.
type FaceInfo struct {
	// Normalize is the descriptor preprocessing before the head.
	Normalize string `json:"normalize"`
	// MinProbability is the rest of the unknown rule (see Rule).
	MinProbability float64     `json:"min_probability"`
	Calibration    Calibration `json:"calibration"`
	// Excluded names class folders of the data left out of training, to be
	// used as strangers (eval --strangers excluded).
	Excluded []string `json:"excluded,omitempty"`
	// NoFace lists training-folder photos (relative paths) in which no face
	// was found: left out of training, errors in the test accuracy.
	NoFace data.NameList `json:"no_face,omitempty"`
	// TestAccOpenSet is the test-split accuracy with the unknown rule
	// applied (BestTestAcc is the head's closed-set accuracy).
	TestAccOpenSet float64      `json:"test_acc_open_set"`
	Enrolled       []Enrollment `json:"enrolled,omitempty"`
}

// Enrollment is one `starid enroll`.
type Enrollment struct {
	Time   string   `json:"time"` // RFC 3339
	Name   string   `json:"name"`
	New    bool     `json:"new"`    // a new class, rather than more photos of a known one
	Photos []string `json:"photos"` // as given on the command line
}

// FaceRun is an opened face run.
type FaceRun struct {
	Dir   string
	Info  runs.ModelInfo
	Face  FaceInfo
	Model *Model
}

// Rule is the run's stored unknown rule.
func (r *FaceRun) Rule() Rule {
	rule := Rule{MaxDistance: DefaultRule.MaxDistance, MinProbability: r.Face.MinProbability}
	if r.Info.Unknown != nil {
		rule.MaxDistance = *r.Info.Unknown
	}
	return rule
}

// ErrNotFaceRun is returned (wrapped) by OpenFaceRun for a run of another
// model.
var ErrNotFaceRun = errors.New("not a face run")

// OpenFaceRun reads a face run: model.json and best.safetensors. The
// weights file is authoritative for the class list (enroll replaces it
// first and model.json second; should a crash fall between the two, the
// next enroll brings model.json up to date).
func OpenFaceRun(dir string) (*FaceRun, error) {
	info, err := runs.ReadModelInfo(dir)
	if err != nil {
		return nil, err
	}
	if info.Model != runs.ModelFace {
		return nil, fmt.Errorf("%s is a %s run, %w (train one with --model face)", dir, info.Model, ErrNotFaceRun)
	}
	r := &FaceRun{Dir: dir, Info: *info}
	if len(info.Face) > 0 {
		if err := json.Unmarshal(info.Face, &r.Face); err != nil {
			return nil, fmt.Errorf("%s: corrupt \"face\" entry: %w", filepath.Join(dir, runs.ModelInfoFile), err)
		}
	}
	best := filepath.Join(dir, runs.BestFile)
	if _, err := os.Stat(best); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: missing: the face run did not finish training", best)
	}
	m, version, err := LoadModel(best)
	if err != nil {
		return nil, err
	}
	if version != info.PipelineVersion {
		return nil, fmt.Errorf("%s was made with face pipeline %q, model.json says %q", best, version, info.PipelineVersion)
	}
	r.Model = m
	r.Info.Classes = slices.Clone(m.Classes)
	return r, nil
}

// writeInfo stores the run's model.json with its face entry.
func (r *FaceRun) writeInfo() error {
	b, err := json.Marshal(r.Face)
	if err != nil {
		return err
	}
	r.Info.Face = b
	r.Info.Classes = slices.Clone(r.Model.Classes)
	return runs.WriteModelInfo(r.Dir, &r.Info)
}

// CheckPipeline refuses a run whose head was trained on descriptors of
// another face pipeline than version (this starid's faces.PipelineVersion):
// its answers would be meaningless.
func (r *FaceRun) CheckPipeline(version string) error {
	if r.Info.PipelineVersion != version {
		return fmt.Errorf("%s was trained on descriptors of face pipeline %q, this starid makes %q; train a new run",
			r.Dir, r.Info.PipelineVersion, version)
	}
	return nil
}

// OpenForAnswers opens the face run in dir for naming faces: it must have
// been trained on descriptors of pipeline (this starid's
// faces.PipelineVersion), and its unknown rule is the stored one with
// maxDistance, when not nil, in place of the stored threshold.
func OpenForAnswers(dir, pipeline string, maxDistance *float64) (*FaceRun, Rule, error) {
	run, err := OpenFaceRun(dir)
	if err != nil {
		return nil, Rule{}, err
	}
	if err := run.CheckPipeline(pipeline); err != nil {
		return nil, Rule{}, err
	}
	rule := run.Rule()
	if maxDistance != nil {
		rule.MaxDistance = *maxDistance
	}
	return run, rule, nil
}
