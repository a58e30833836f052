package cli

import (
	"fmt"
	"io"
	"runtime"
)

// MaxWorkersPerCore bounds --workers per core. The commands' workers are
// CPU-bound (decoding, describing faces), so more than a few per core
// only hold decoded photos in memory and, on PostgreSQL, a connection
// each: a value of a million would start a million goroutines.
const MaxWorkersPerCore = 4

// Workers checks a --workers value: negative is a usage error, 0 (one per
// core) stays 0, and more than MaxWorkersPerCore per core is cut to that,
// with a note on stderr so the user knows the value was not taken.
func Workers(n int, stderr io.Writer) (int, error) {
	if n < 0 {
		return 0, Usagef("--workers %d: must be 0 (one per core) or more", n)
	}
	limit := MaxWorkersPerCore * runtime.GOMAXPROCS(0)
	if n > limit {
		fmt.Fprintf(stderr, "note: --workers %d cut to %d (%d per core)\n", n, limit, MaxWorkersPerCore)
		return limit, nil
	}
	return n, nil
}
