package runs

import (
	"errors"
	"fmt"
	"math"
	"starid/internal/facecrop"
	"starid/internal/optim"
	"strings"
)

// Settings are one training run's settings: the command line of
// `starid train`, for the VGG trainer (package train) and the face-head
// trainer (package identify) alike. Every field that changes the trained weights is stored in
// model.json, and --resume refuses flags that disagree with it.
type Settings struct {
	Data  string `json:"data"`  // image folder, one sub-folder per class
	Out   string `json:"out"`   // run directory
	Model string `json:"model"` // models.ByName name
	// Width scales the VGG's convolution widths (models.VGGOptions.Width);
	// 1 is the tutorial's network, and old runs without it were that.
	Width       float64       `json:"width,omitempty"`
	Size        int           `json:"size"`      // input height and width
	Epochs      int           `json:"epochs"`    // total epochs (a resumed run may raise it)
	Batch       int           `json:"batch"`     // batch size for training and evaluation
	Optimizer   string        `json:"optimizer"` // "adam", "adamw" or "sgd"
	LR          float64       `json:"lr"`        // base learning rate
	Momentum    float64       `json:"momentum"`  // SGD only
	Schedule    string        `json:"schedule"`  // optim.ParseSchedule form
	WeightDecay float64       `json:"weight_decay"`
	L1          float64       `json:"l1"` // tutorial's L1 penalty weight
	L2          float64       `json:"l2"` // tutorial's L2 penalty weight
	TrainFrac   float64       `json:"train_frac"`
	Seed        uint64        `json:"seed"`
	Augment     bool          `json:"augment"`
	Crop        facecrop.Mode `json:"crop"` // "none", "face" or "aligned"
	// CropMargin is, for Crop "face", how much of the face box's longer
	// side is added on each side of the face (see facecrop.Around); for Crop
	// "aligned" the chip template's padding (faces.ChipTemplate: room
	// around the mean face shape, in units of its size); 0 for
	// whole-photo runs.
	CropMargin float64 `json:"crop_margin,omitempty"`

	// Resume continues the run in Out instead of starting a new one.
	Resume bool `json:"-"`
	// Workers is the number of image-decoding goroutines (0: one per
	// core). It does not change the results, so it is not compared.
	Workers int `json:"-"`
	// Given lists the settings the user gave explicitly, by flag name
	// ("lr", "weight-decay"); on resume only these are compared with the
	// stored run and the others are taken from it. Nil compares them all.
	Given []string `json:"-"`
}

// MaxSize and MaxBatch bound --size and --batch (and the same settings read
// back from a model.json): far beyond any use on a CPU (the tutorial trains
// at 224 in batches of 32), they keep a typo or a damaged file from asking
// for more memory than any machine has.
const (
	MaxSize  = 1024
	MaxBatch = 4096
)

// CheckPaths refuses settings without a data folder or a run folder.
func (s *Settings) CheckPaths() error {
	switch {
	case s.Data == "":
		return errors.New("no data folder given")
	case s.Out == "":
		return errors.New("no run directory given (--out)")
	}
	return nil
}

// CheckTraining checks the settings every trainer reads (epochs, batch,
// learning rate and its schedule, optimizer, workers, split) before
// anything touches the disk, and puts the optimizer and schedule in their
// canonical spelling, as model.json stores them. Both trainers call it, so
// a VGG run and a face run refuse the same mistakes in the same words.
func (s *Settings) CheckTraining() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case s.Epochs < 1:
		return fmt.Errorf("--epochs %d: must be at least 1", s.Epochs)
	case s.Batch < 1 || s.Batch > MaxBatch:
		return fmt.Errorf("--batch %d: must be between 1 and %d", s.Batch, MaxBatch)
	case !finite(s.LR) || s.LR <= 0:
		return fmt.Errorf("--lr %v: must be a positive number", s.LR)
	case s.Workers < 0:
		return fmt.Errorf("--workers %d: must be 0 (one per core) or more", s.Workers)
	case !(s.TrainFrac > 0 && s.TrainFrac < 1):
		return fmt.Errorf("--train-frac %v: must be between 0 and 1", s.TrainFrac)
	}
	sched, err := optim.ParseSchedule(s.Schedule)
	if err != nil {
		return err
	}
	if err := sched.Validate(); err != nil {
		return err
	}
	s.Schedule = sched.String()
	s.Optimizer = strings.ToLower(s.Optimizer)
	switch s.Optimizer {
	case "adam", "adamw":
		return optim.AdamConfig{LR: s.LR, WeightDecay: s.WeightDecay}.Validate()
	case "sgd":
		return optim.SGDConfig{LR: s.LR, Momentum: s.Momentum, WeightDecay: s.WeightDecay}.Validate()
	}
	return fmt.Errorf("--optimizer %q: want adam, adamw or sgd", s.Optimizer)
}
