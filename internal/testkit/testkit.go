// Package testkit holds what the tests of several packages share; only
// _test.go files import it.
package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// Python is the interpreter of the cross-checks against PyTorch: Debian's,
// the one python3-torch installs into.
const Python = "/usr/bin/python3"

// NeedTorch skips the test unless Python can import torch, and returns
// Python for the test to run its script with.
func NeedTorch(t testing.TB) string {
	t.Helper()
	if out, err := exec.Command(Python, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("skipping: %s cannot import torch (install python3-torch): %v: %s", Python, err, strings.TrimSpace(string(out)))
	}
	return Python
}
