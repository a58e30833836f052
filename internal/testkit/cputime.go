//go:build unix

package testkit

import (
	"syscall"
	"time"
)

// CPUSeconds is the user+system CPU time of the process so far; benchmarks
// divide work by it to report rates per core busy, which on a shared
// machine say more than wall-clock rates. It is 0 when the system cannot
// tell.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
