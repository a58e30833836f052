package runs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"starid/internal/report"
	"strconv"
)

// EpochRecord is one row of history.csv: what the tutorial prints after
// each epoch.
type EpochRecord struct {
	Epoch      int     `json:"epoch"` // 1-based
	DurationMS int64   `json:"duration_ms"`
	TrainAcc   float64 `json:"train_acc"` // fraction in [0, 1], over the epoch, in training mode
	TrainLoss  float64 `json:"train_loss"`
	TestAcc    float64 `json:"test_acc"`
	TestLoss   float64 `json:"test_loss"`
	// LR is the learning rate after the epoch's scheduler step, which is
	// what the tutorial prints: the rate the next epoch will use, not the
	// one this epoch trained with.
	LR      float64 `json:"lr"`
	Best    bool    `json:"best"`              // test accuracy improved; best.safetensors holds this epoch
	Skipped int     `json:"skipped,omitempty"` // images that could not be read this epoch
}

// Line is the per-epoch line, in the tutorial's wording and precision:
//
//	Epoch: 1/40, Duration: 12345ms, Train_acc: 23.4%, Train_loss: 2.345, Test_acc: 20.1%, Test_loss: 2.567, Lr: 9.20E-05  (best)
func (r EpochRecord) Line(epochs int) string {
	s := fmt.Sprintf("Epoch: %d/%d, Duration: %dms, Train_acc: %.1f%%, Train_loss: %.3f, Test_acc: %.1f%%, Test_loss: %.3f, Lr: %.2E",
		r.Epoch, epochs, r.DurationMS, 100*r.TrainAcc, r.TrainLoss, 100*r.TestAcc, r.TestLoss, r.LR)
	if r.Best {
		s += "  (best)"
	}
	return s
}

// HistoryHeader is history.csv's first line.
const HistoryHeader = "epoch,duration_ms,train_acc,train_loss,test_acc,test_loss,lr,best"

// writeHistory writes the records as CSV, accuracies as fractions.
func writeHistory(w io.Writer, h []EpochRecord) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, HistoryHeader)
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range h {
		fmt.Fprintf(bw, "%d,%d,%s,%s,%s,%s,%s,%t\n", r.Epoch, r.DurationMS, g(r.TrainAcc), g(r.TrainLoss),
			g(r.TestAcc), g(r.TestLoss), g(r.LR), r.Best)
	}
	return bw.Flush()
}

// ErrDiverged is returned (wrapped) when training's loss stops being a
// number: the learning rate is too high for the model.
var ErrDiverged = errors.New("training diverged")

// Diverged is the error for an epoch whose loss (training or test) is NaN
// or infinite, or nil. Such an epoch is never written: its weights are
// garbage, and model.json and the checkpoint's history are JSON, which has
// no NaN.
func Diverged(epoch int, what string, loss, baseLR float64) error {
	if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
		return nil
	}
	return fmt.Errorf("%w at epoch %d: the %s loss is %v; lower --lr (it was %g) and train again",
		ErrDiverged, epoch, what, loss, baseLR)
}

// interruptedError reads as its message alone but still matches
// errors.Is(err, context.Canceled): "context canceled" means nothing to
// someone who pressed Ctrl-C.
type interruptedError struct {
	msg   string
	cause error
}

func (e *interruptedError) Error() string { return e.msg }
func (e *interruptedError) Unwrap() error { return e.cause }

// Interrupted is the error for a run stopped by cause (its context's
// error), worded by format and args.
func Interrupted(cause error, format string, args ...any) error {
	return &interruptedError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// curves draws RUN/curves.png; a variable so the plot stays optional.
var curves = func(h []EpochRecord, path string) error {
	rs := make([]report.EpochRecord, len(h))
	for i, r := range h {
		rs[i] = report.EpochRecord{Epoch: r.Epoch, TrainAcc: r.TrainAcc, TrainLoss: r.TrainLoss,
			TestAcc: r.TestAcc, TestLoss: r.TestLoss, LR: r.LR}
	}
	return report.Curves(rs, path)
}
