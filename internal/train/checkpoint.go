package train

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"starid/internal/atomicfile"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/runs"
	"starid/internal/safetensors"
	"starid/internal/tensor"
)

// wrapWriter lets tests make a write fail part way (a full disk).
var wrapWriter = func(w io.Writer) io.Writer { return w }

// writeFileAtomic is atomicfile.Write through wrapWriter, the tests' hook
// for a disk that fills up halfway.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, func(w io.Writer) error { return write(wrapWriter(w)) })
}

// Checkpoint metadata keys. Scalars live in the safetensors header's
// string metadata; the optimizer's tensors under nn.OptimPrefix.
const (
	metaEpoch       = "starid.epoch"         // completed epochs
	metaBestEpoch   = "starid.best_epoch"    // 1-based, 0 = none
	metaBestTestAcc = "starid.best_test_acc" // exact float64 text
	metaHistory     = "starid.history"       // JSON []EpochRecord
	metaOptimizer   = "starid.optimizer"     // Config.Optimizer
	metaSeed        = "starid.seed"
	metaTestAcc     = "starid.test_acc" // best file: that epoch's accuracy
)

// progressState is what a checkpoint records besides the tensors.
type progressState struct {
	Epoch       int
	BestEpoch   int
	BestTestAcc float64
	History     []runs.EpochRecord
}

// writeCheckpoint saves the model's state dict, plus the optimizer state
// when opt is not nil, with the progress in the metadata. The optimizer's
// entries are written in sorted order so equal states give equal files.
func writeCheckpoint(path string, net nn.Layer, opt optim.Optimizer, cfg *Config, st progressState) error {
	hist, err := json.Marshal(st.History)
	if err != nil {
		return err
	}
	meta := map[string]string{
		"format":        "pt",
		metaEpoch:       strconv.Itoa(st.Epoch),
		metaBestEpoch:   strconv.Itoa(st.BestEpoch),
		metaBestTestAcc: strconv.FormatFloat(st.BestTestAcc, 'g', -1, 64),
		metaSeed:        strconv.FormatUint(cfg.Seed, 10),
	}
	ts := nn.StateTensors(net)
	if opt != nil {
		meta[metaHistory] = string(hist)
		meta[metaOptimizer] = cfg.Optimizer
		state := opt.State()
		keys := make([]string, 0, len(state))
		for k := range state {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t := state[k]
			ts = append(ts, safetensors.Tensor{Name: nn.OptimPrefix + k, Shape: t.Shape, F32: t.Data})
		}
	} else if n := len(st.History); n > 0 {
		meta[metaTestAcc] = strconv.FormatFloat(st.History[n-1].TestAcc, 'g', -1, 64)
	}
	return writeFileAtomic(path, func(w io.Writer) error { return safetensors.Write(w, ts, meta) })
}

// readCheckpoint loads a last checkpoint into net and opt and returns the
// progress it records.
func readCheckpoint(path string, net nn.Layer, opt optim.Optimizer, cfg *Config) (progressState, error) {
	var st progressState
	extra, meta, err := nn.ReadTensors(path, net)
	if err != nil {
		return st, fmt.Errorf("cannot resume from %s: %w", path, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cannot resume from %s: %s", path, fmt.Sprintf(format, args...))
	}
	if st.Epoch, err = strconv.Atoi(meta[metaEpoch]); err != nil || st.Epoch < 1 {
		return st, bad("no valid %s in the metadata (%q)", metaEpoch, meta[metaEpoch])
	}
	if st.BestEpoch, err = strconv.Atoi(meta[metaBestEpoch]); err != nil {
		return st, bad("no valid %s in the metadata", metaBestEpoch)
	}
	if st.BestTestAcc, err = strconv.ParseFloat(meta[metaBestTestAcc], 64); err != nil {
		return st, bad("no valid %s in the metadata", metaBestTestAcc)
	}
	if err := json.Unmarshal([]byte(meta[metaHistory]), &st.History); err != nil || len(st.History) != st.Epoch {
		return st, bad("history does not match its %d epochs", st.Epoch)
	}
	if got := meta[metaOptimizer]; got != cfg.Optimizer {
		return st, bad("optimizer state is for %q, the run uses %q", got, cfg.Optimizer)
	}
	state := make(map[string]*tensor.Tensor, len(extra))
	for _, e := range extra {
		if e.F32 == nil {
			return st, bad("optimizer entry %s is not float32", e.Name)
		}
		state[strings.TrimPrefix(e.Name, nn.OptimPrefix)] = tensor.FromData(e.F32, e.Shape...)
	}
	if err := opt.LoadState(state); err != nil {
		return st, bad("%v", err)
	}
	return st, nil
}
