// Package bench times repeated steps the way the PyTorch reference script
// does (warm-up first, then median and minimum of the timed steps) and reads
// the process's peak resident memory, so starid's and PyTorch's numbers mean
// the same thing.
package bench

import (
	"fmt"
	"slices"
	"syscall"
	"time"
)

// Result is one timed benchmark.
type Result struct {
	Steps     int       `json:"steps"`
	MedianMS  float64   `json:"median_ms"`
	MinMS     float64   `json:"min_ms"`
	TimesMS   []float64 `json:"times_ms"`
	PeakRSSMB float64   `json:"peak_rss_mb"`
}

// Run calls step warmup times untimed, then steps times timed.
func Run(warmup, steps int, step func() error) (Result, error) {
	if steps < 1 {
		return Result{}, fmt.Errorf("need at least one timed step, got %d", steps)
	}
	for i := 0; i < warmup; i++ {
		if err := step(); err != nil {
			return Result{}, err
		}
	}
	times := make([]float64, 0, steps)
	for i := 0; i < steps; i++ {
		t0 := time.Now()
		if err := step(); err != nil {
			return Result{}, err
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	return Result{Steps: steps, MedianMS: Median(times), MinMS: slices.Min(times), TimesMS: times, PeakRSSMB: PeakRSSMB()}, nil
}

// Median of xs (the mean of the middle two for an even count); 0 if empty.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// PeakRSSMB is the process's peak resident set size in MiB (getrusage's
// ru_maxrss, the number PyTorch's reference script reports).
func PeakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}
