//go:build unix

package library

import (
	"errors"
	"syscall"
)

// canCheckProcesses: a claim by a process of this host is stale once the
// process is gone.
const canCheckProcesses = true

// processAlive reports whether a process with this id runs: signal 0
// checks without sending anything (EPERM: it runs, as another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
