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
	LR float64 `json:"lr"`
	// Best: best.safetensors held the epoch when it ended; the last epoch
	// marked is the one the run keeps, which model.json's best_epoch
	// names. A VGG run marks each epoch that beat every earlier one
	// (Improves); a face run, which keeps its last epoch, marks only that.
	Best    bool `json:"best"`
	Skipped int  `json:"skipped,omitempty"` // images that could not be read this epoch
}

// Improves says whether r is a better epoch than best (nil: the first
// epoch); it is how a VGG run chooses the epoch best.safetensors keeps
// (face runs keep their last and choose nothing). The higher test
// accuracy wins; at equal test accuracy the lower test loss (the more
// confident right answers); at equal both, the earlier epoch stays. So
// the run's best epoch is the one with the highest test accuracy, the
// lowest test loss among those, and the earliest among those.
func (r EpochRecord) Improves(best *EpochRecord) bool {
	if best == nil {
		return true
	}
	if r.TestAcc != best.TestAcc {
		return r.TestAcc > best.TestAcc
	}
	return r.TestLoss < best.TestLoss
}

// BestRecord is the last record marked Best in h (the run's best epoch so
// far), or nil.
func BestRecord(h []EpochRecord) *EpochRecord {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Best {
			return &h[i]
		}
	}
	return nil
}

// BestNote says which epoch of h is the run's best and why, for the end
// of a run: "best epoch 7 of 40: test accuracy 91.2%, loss 0.321 (the
// highest accuracy; at equal accuracy the lower test loss)".
func BestNote(h []EpochRecord) string {
	b := BestRecord(h)
	if b == nil {
		return "no epoch finished"
	}
	return fmt.Sprintf("best epoch %d of %d: test accuracy %.1f%%, test loss %.3f (the highest test accuracy; at equal accuracy the lower test loss)",
		b.Epoch, len(h), 100*b.TestAcc, b.TestLoss)
}

// Line is the per-epoch line, in the tutorial's wording and precision
// but for the duration, in seconds:
//
//	Epoch: 1/40, Duration: 12.3 s, Train_acc: 23.4%, Train_loss: 2.345, Test_acc: 20.1%, Test_loss: 2.567, Lr: 9.20E-05  (best)
func (r EpochRecord) Line(epochs int) string {
	s := fmt.Sprintf("Epoch: %d/%d, Duration: %s, Train_acc: %.1f%%, Train_loss: %.3f, Test_acc: %.1f%%, Test_loss: %.3f, Lr: %.2E",
		r.Epoch, epochs, Seconds(r.DurationMS), 100*r.TrainAcc, r.TrainLoss, 100*r.TestAcc, r.TestLoss, r.LR)
	if r.Best {
		s += "  (best)"
	}
	return s
}

// Seconds shows a duration in milliseconds as seconds: one decimal from a
// second up ("12.3 s"), three below, where a face run's epochs are
// ("0.012 s").
func Seconds(ms int64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	}
	return fmt.Sprintf("%.3f s", float64(ms)/1000)
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
var curves = func(h []EpochRecord, text report.CurvesText, path string) error {
	rs := make([]report.EpochRecord, len(h))
	for i, r := range h {
		rs[i] = report.EpochRecord{Epoch: r.Epoch, TrainAcc: r.TrainAcc, TrainLoss: r.TrainLoss,
			TestAcc: r.TestAcc, TestLoss: r.TestLoss, LR: r.LR, Best: r.Best}
	}
	return report.Curves(rs, text, path)
}
