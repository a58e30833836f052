package tensor

import (
	"runtime"
	"sync"
)

// Workers is how many goroutines the heavy loops split into. It follows
// GOMAXPROCS, so GOMAXPROCS=1 makes starid single-threaded end to end
// (OpenBLAS itself always runs single-threaded; see gemm_cblas.go).
func Workers() int { return runtime.GOMAXPROCS(0) }

// Parallel splits [0, n) into at most Workers() contiguous chunks and runs
// fn(lo, hi) on each, returning when all are done. Small n runs inline.
func Parallel(n int, fn func(lo, hi int)) {
	ParallelMin(n, 1, fn)
}

// ParallelMin is Parallel with a minimum chunk size, so that cheap loops
// are not split into pieces smaller than the cost of a goroutine.
func ParallelMin(n, minChunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if minChunk < 1 {
		minChunk = 1
	}
	if maxW := (n + minChunk - 1) / minChunk; w > maxW {
		w = maxW
	}
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, hi)
	}
	wg.Wait()
}

// ForEach runs fn(worker, i) for every i in [0, n) on Workers() goroutines
// that take items one at a time, so uneven items balance out. worker is in
// [0, Workers()) and lets fn use a per-worker scratch buffer without locks.
func ForEach(n int, fn func(worker, i int)) {
	w := min(Workers(), n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(worker int) {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(worker, i)
			}
		}(k)
	}
	wg.Wait()
}
