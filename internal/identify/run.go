package identify

import (
	"cmp"
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
	Dir   string // "" for a run that is not in a folder (the built-in model)
	Label string // names the run in messages when Dir is empty
	Info  runs.ModelInfo
	Face  FaceInfo
	Model *Model
}

// name is how messages name the run.
func (r *FaceRun) name() string { return cmp.Or(r.Dir, r.Label) }

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
	best := filepath.Join(dir, runs.BestFile)
	if _, err := os.Stat(best); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: missing: the face run did not finish training", best)
	}
	m, version, err := LoadModel(best)
	if err != nil {
		return nil, err
	}
	return newFaceRun(dir, info, m, version)
}

// OpenFaceRunFS reads a face run's model.json and best.safetensors from
// fsys (the built-in model, embedded in the binary); name says where fsys
// is in errors. The run's Dir is empty: it has no folder to write to.
func OpenFaceRunFS(fsys fs.FS, name string) (*FaceRun, error) {
	read := func(file string) ([]byte, string, error) {
		b, err := fs.ReadFile(fsys, file)
		return b, name + "/" + file, err
	}
	b, mj, err := read(runs.ModelInfoFile)
	if err != nil {
		return nil, err
	}
	info, err := runs.ParseModelInfo(mj, b)
	if err != nil {
		return nil, err
	}
	if info.Model != runs.ModelFace {
		return nil, fmt.Errorf("%s: a %s run, %w", mj, info.Model, ErrNotFaceRun)
	}
	b, best, err := read(runs.BestFile)
	if err != nil {
		return nil, err
	}
	m, version, err := ReadModel(best, b)
	if err != nil {
		return nil, err
	}
	r, err := newFaceRun(name, info, m, version)
	if r != nil {
		r.Dir, r.Label = "", name
	}
	return r, err
}

// newFaceRun joins a face run's model.json and weights; dir names the run
// in errors.
func newFaceRun(dir string, info *runs.ModelInfo, m *Model, version string) (*FaceRun, error) {
	r := &FaceRun{Dir: dir, Info: *info}
	if len(info.Face) > 0 {
		if err := json.Unmarshal(info.Face, &r.Face); err != nil {
			return nil, fmt.Errorf("%s: corrupt \"face\" entry: %w", filepath.Join(dir, runs.ModelInfoFile), err)
		}
	}
	if version != info.PipelineVersion {
		return nil, fmt.Errorf("%s was made with face pipeline %q, model.json says %q", filepath.Join(dir, runs.BestFile), version, info.PipelineVersion)
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
			r.name(), r.Info.PipelineVersion, version)
	}
	return nil
}

// AnswerRule is the unknown rule to name faces with: the run must have
// been trained on descriptors of pipeline (this starid's
// faces.PipelineVersion), and maxDistance, when not nil, replaces the
// stored threshold.
func (r *FaceRun) AnswerRule(pipeline string, maxDistance *float64) (Rule, error) {
	if err := r.CheckPipeline(pipeline); err != nil {
		return Rule{}, err
	}
	rule := r.Rule()
	if maxDistance != nil {
		rule.MaxDistance = *maxDistance
	}
	return rule, nil
}

// WriteTo writes the run's weights and model.json into dir (which must
// exist), each file atomically, weights first; the run then lives there.
func (r *FaceRun) WriteTo(dir string) error {
	if err := r.Model.Save(filepath.Join(dir, runs.BestFile), r.Info.PipelineVersion, r.Info.BestEpoch); err != nil {
		return err
	}
	r.Dir = dir
	return r.writeInfo()
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
	rule, err := run.AnswerRule(pipeline, maxDistance)
	if err != nil {
		return nil, Rule{}, err
	}
	return run, rule, nil
}
