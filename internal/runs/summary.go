package runs

// Summary is a finished training run in brief, `starid train --json` (the
// epochs are in HistoryFile). Both trainers fill it: VGG runs the best
// epoch, face runs the unknown rule's figures.
type Summary struct {
	Run          string  `json:"run"`
	Model        string  `json:"model"`
	Epochs       int     `json:"epochs"`
	BestEpoch    int     `json:"best_epoch,omitempty"` // VGG runs: the epoch whose weights are best.safetensors
	TestAccuracy float64 `json:"test_accuracy"`        // VGG runs: at the best epoch
	// Face runs: accuracy with the unknown rule, its distance threshold
	// (absent when there is none), the people and the photos without a
	// face.
	OpenSetAccuracy  *float64 `json:"open_set_accuracy,omitempty"`
	UnknownThreshold *float64 `json:"unknown_threshold,omitempty"`
	Classes          []string `json:"classes,omitempty"`
	NoFace           *int     `json:"no_face,omitempty"`
	Skipped          int      `json:"skipped"` // files that could not be used
}
