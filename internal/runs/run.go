package runs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"unicode/utf8"

	"starid/internal/atomicfile"
	"starid/internal/data"
	"starid/internal/facecrop"
	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/report"
)

// Files of a run directory (RUN). Every file is replaced atomically (temporary
// file, fsync, rename, directory fsync), so a crash leaves each one whole:
//
//	model.json        ModelInfo: architecture, classes, preprocessing, split seed, settings, best epoch
//	best.safetensors  the weights of the epoch with the highest test accuracy (PyTorch state_dict names)
//	last.safetensors  the last completed epoch: weights, optimizer state under "optim.", and in the
//	                  metadata the epoch count, best so far and the history; an epoch is done once
//	                  this file is in place, and --resume continues from it
//	history.csv       one row per epoch (EpochRecord)
//	curves.png        accuracy and loss, train against test
//	split.json        which file went to training and which to test (data.Split)
//	train.log         everything the run printed, time-stamped, including every skipped file
//	.starid.lock      the one-writer lock (LockFile), naming its holder
const (
	ModelInfoFile = "model.json"
	BestFile      = "best.safetensors"
	LastFile      = "last.safetensors"
	HistoryFile   = "history.csv"
	CurvesFile    = "curves.png"
	SplitFile     = "split.json"
	LogFile       = "train.log"
)

// ModelInfoVersion is the model.json format this code writes and reads.
const ModelInfoVersion = 1

// ModelInfo is model.json: everything needed to rebuild the network and
// feed it images the way it was trained, plus how the run went.
type ModelInfo struct {
	Version int          `json:"version"`
	Model   string       `json:"model"`
	Spec    *models.Spec `json:"spec,omitempty"`
	Classes []string     `json:"classes"`
	// Preprocessing: images are resized to Size x Size and normalized
	// per channel with Mean and Std.
	Size       int           `json:"size"`
	Mean       [3]float32    `json:"mean"`
	Std        [3]float32    `json:"std"`
	Crop       facecrop.Mode `json:"crop"`
	CropMargin float64       `json:"crop_margin,omitempty"` // crop=face: CropAround's margin; crop=aligned: the chip padding
	// ChipSize is, for crop=aligned, the side of the aligned chips, which
	// are then resized to Size (AlignedChipSide when the run was made;
	// stored so that eval and predict cut the same chips if it changes).
	ChipSize  int     `json:"chip_size,omitempty"`
	Data      string  `json:"data"` // absolute path of the training folder
	Seed      uint64  `json:"seed"` // split and training seed
	TrainFrac float64 `json:"train_frac"`
	// Unknown is the open-set threshold (issue 4); nil until calibrated.
	// Whole-photo models compare it with the top softmax probability; face
	// runs with the descriptor's distance to the predicted class's centroid
	// (see Face for the rest of their rule).
	Unknown *float64 `json:"unknown_threshold,omitempty"`
	// PipelineVersion is faces.PipelineVersion of the face runs' descriptors:
	// a head is only valid on descriptors from the same pipeline.
	PipelineVersion string `json:"pipeline_version,omitempty"`
	// Face holds what only face runs have (head preprocessing, the rest of
	// the unknown rule, calibration numbers, enrollments); package identify
	// owns its format, so this package stores it as it comes.
	Face json.RawMessage `json:"face,omitempty"`
	// BestEpoch (1-based, 0 before the first epoch) is the epoch whose
	// weights best.safetensors holds (a face run's last); BestTestAcc its
	// test accuracy in [0,1].
	BestEpoch     int      `json:"best_epoch"`
	BestTestAcc   float64  `json:"best_test_acc"`
	Config        Settings `json:"config"`
	Created       string   `json:"created"` // RFC 3339, when the run started
	StaridVersion string   `json:"starid_version"`
}

// ModelFace is the model name of face runs: a frozen pretrained face
// descriptor plus a trained linear head (package identify). Their run has
// no Spec and no network for OpenRun to build.
const ModelFace = "face"

// Run is a finished (or interrupted) training run opened for use.
type Run struct {
	Dir   string
	Info  ModelInfo
	Model *nn.Sequential // in evaluation mode, with the best weights; nil for face runs
}

// OpenRun reads dir/model.json, builds the network it describes and loads
// dir/best.safetensors into it. Errors name the file at fault. A face run
// (Info.Model == ModelFace) has no network to build: its Model is nil and
// package identify opens its head.
func OpenRun(dir string) (*Run, error) {
	info, err := readModelInfo(dir)
	if err != nil {
		return nil, err
	}
	if info.Model == ModelFace {
		return &Run{Dir: dir, Info: *info}, nil
	}
	if info.Spec == nil {
		return nil, fmt.Errorf("%s: no network description (spec)", filepath.Join(dir, ModelInfoFile))
	}
	mj := filepath.Join(dir, ModelInfoFile)
	// The network's outputs follow split.json's class order, which nothing
	// rewrites; a renamed class in model.json would be named silently on
	// every answer. (A run copied without split.json cannot be checked.)
	if sp, err := data.ReadSplit(filepath.Join(dir, SplitFile)); err == nil && !slices.Equal(sp.Classes, info.Classes) {
		return nil, fmt.Errorf("%s: corrupt: it lists the classes %v, but the run was trained on %v (%s); put the class list back",
			mj, info.Classes, []string(sp.Classes), filepath.Join(dir, SplitFile))
	}
	net, err := models.Build(*info.Spec, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mj, err)
	}
	// The network must take the recorded input and give one score per
	// class, or every photo would fail later with a less useful message.
	in := []int{1, info.Spec.InChannels, info.Size, info.Size}
	sum, err := nn.Summarize(net, in)
	if err != nil {
		return nil, fmt.Errorf("%s: the network does not take %dx%d images: %w", mj, info.Size, info.Size, err)
	}
	if want := []int{1, len(info.Classes)}; info.Spec.InChannels != 3 || !slices.Equal(sum.OutputShape, want) {
		return nil, fmt.Errorf("%s: corrupt: the network maps %v to %v, want %d classes from RGB images", mj, in, sum.OutputShape, len(info.Classes))
	}
	best := filepath.Join(dir, BestFile)
	if _, err := os.Stat(best); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: missing: the run has not finished an epoch yet", best)
	}
	if err := nn.LoadStateDict(best, net); err != nil {
		return nil, fmt.Errorf("%s: cannot load the best weights: %w", best, err)
	}
	net.SetTraining(false)
	return &Run{Dir: dir, Info: *info, Model: net}, nil
}

// IsRun tells a run folder from anything else (a photo, a folder of
// photos) by what it holds: a model.json.
func IsRun(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, ModelInfoFile))
	return err == nil && fi.Mode().IsRegular()
}

// readModelInfo reads and checks dir/model.json.
func readModelInfo(dir string) (*ModelInfo, error) {
	path := filepath.Join(dir, ModelInfoFile)
	// Bounded and regular files only, like every input: a FIFO or a huge
	// file named model.json must not hang or exhaust predict or serve.
	b, err := data.ReadFile(path, maxModelInfoBytes)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(dir); derr != nil {
			return nil, fmt.Errorf("%s: no such run directory", dir)
		}
		return nil, fmt.Errorf("%s: missing: %s is not a training run", path, dir)
	}
	if err != nil {
		return nil, err
	}
	return ParseModelInfo(path, b)
}

// ParseModelInfo checks the model.json content b; path names it in errors
// (the built-in model's is embedded in the binary, not read from a folder).
func ParseModelInfo(path string, b []byte) (*ModelInfo, error) {
	var info ModelInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("%s: corrupt: %w", path, err)
	}
	if info.Version != ModelInfoVersion {
		return nil, fmt.Errorf("%s: format version %d, this starid reads version %d", path, info.Version, ModelInfoVersion)
	}
	// Face runs take whole photos of any size: the pipeline decides the
	// crops, so they record no input size.
	if len(info.Classes) == 0 || (info.Size < 1 && info.Model != ModelFace) {
		return nil, fmt.Errorf("%s: corrupt: no classes or no input size", path)
	}
	if info.Size > MaxSize {
		return nil, fmt.Errorf("%s: corrupt: input size %d is beyond this starid's %d", path, info.Size, MaxSize)
	}
	if err := CheckClassNames(info.Classes); err != nil {
		return nil, fmt.Errorf("%s: corrupt: %w", path, err)
	}
	if info.Model != ModelFace {
		for c, s := range info.Std {
			if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(info.Mean[c])) || math.IsInf(float64(info.Mean[c]), 0) {
				return nil, fmt.Errorf("%s: corrupt: normalization mean %v / std %v (std must be positive and finite)", path, info.Mean, info.Std)
			}
		}
	}
	return &info, nil
}

// maxModelInfoBytes bounds model.json: a face run's enrollment history
// and 5,000 class names take well under a megabyte.
const maxModelInfoBytes = 64 << 20

// MaxClasses bounds a run's class list: eval's confusion matrix grows with
// its square.
const MaxClasses = 5000

// CheckClassNames refuses class lists that no training folder gives: too
// long, empty or repeated names, or names that are not a single folder name
// (eval --data and serve --gallery join them to paths).
func CheckClassNames(names []string) error {
	if len(names) > MaxClasses {
		return fmt.Errorf("%d classes, more than this starid allows (%d)", len(names), MaxClasses)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		switch {
		case n == "" || n == "." || n == "..":
			return fmt.Errorf("class name %q", n)
		case strings.ContainsAny(n, `/\`+"\x00"):
			return fmt.Errorf("class name %q holds a path separator", n)
		case !utf8.ValidString(n):
			// model.json, predictions and the API are JSON text.
			return fmt.Errorf("class name %q is not valid UTF-8 text; rename the folder", n)
		case seen[n]:
			return fmt.Errorf("class %q appears twice", n)
		}
		seen[n] = true
	}
	return nil
}

// ReadModelInfo reads and checks dir/model.json (for face runs, whose
// files package identify writes).
func ReadModelInfo(dir string) (*ModelInfo, error) { return readModelInfo(dir) }

// WriteModelInfo replaces dir/model.json atomically.
func WriteModelInfo(dir string, info *ModelInfo) error { return writeModelInfo(dir, info) }

// Keep is which epoch a run keeps in best.safetensors, for the words of
// its pictures.
type Keep int

const (
	// KeepBest: the epoch that beats every earlier one
	// (EpochRecord.Improves), chosen on the test split as the tutorial
	// does; VGG runs.
	KeepBest Keep = iota
	// KeepLast: the last epoch, choosing nothing on the test split; face
	// runs.
	KeepLast
)

// WriteHistoryFiles replaces dir/history.csv and draws dir/curves.png from
// h, as a VGG run does after each epoch; keep says what the marked epoch
// is. A plot that fails is returned as plotErr, apart from err, since the
// numbers are in history.csv.
func WriteHistoryFiles(dir, model string, keep Keep, h []EpochRecord) (plotErr, err error) {
	if err := atomicfile.Write(filepath.Join(dir, HistoryFile), func(w io.Writer) error { return writeHistory(w, h) }); err != nil {
		return nil, err
	}
	if curves != nil {
		text := report.CurvesText{Title: CurvesTitle(dir, model, keep, h)}
		if keep == KeepLast {
			text.Mark = "kept (last)"
		}
		return curves(h, text, filepath.Join(dir, CurvesFile)), nil
	}
	return nil, nil
}

// CurvesTitle is curves.png's title: the run folder's name, the model and
// the epoch best.safetensors holds (the last marked Best in h) with its
// test accuracy, named as keep chose it.
func CurvesTitle(dir, model string, keep Keep, h []EpochRecord) string {
	t := fmt.Sprintf("%s (%s)", filepath.Base(dir), model)
	b := BestRecord(h)
	switch {
	case b == nil:
	case keep == KeepLast:
		t += fmt.Sprintf(": kept the last epoch, %d of %d, test accuracy %.1f%%", b.Epoch, len(h), 100*b.TestAcc)
	default:
		t += fmt.Sprintf(": best epoch %d of %d, test accuracy %.1f%%", b.Epoch, len(h), 100*b.TestAcc)
	}
	return t
}

// StaridVersion names the build, as model.json records it.
func StaridVersion() string { return staridVersion() }

func writeModelInfo(dir string, info *ModelInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ModelInfoFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// staridVersion names the build: module version and VCS revision when the
// binary was built from a checkout.
func staridVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
		if s.Key == "vcs.modified" && s.Value == "true" {
			v += " (modified)"
		}
	}
	return v
}
