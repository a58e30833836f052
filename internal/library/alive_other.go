//go:build !unix

package library

// canCheckProcesses: not here; claims then hold until ClaimLease.
const canCheckProcesses = false

func processAlive(pid int) bool { return true }
