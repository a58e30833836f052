// Package cpu is the one place where starid asks what the processor can
// run. Every SIMD kernel (GEMM, convolution taps, optimizer updates, the
// face nets' sums) picks its variant from here, and `starid version`,
// `bench --json` and `make info` print the same description, so a number
// in docs/BENCHMARKS.md can always be read against the machine it came from.
//
// The feature bits come from golang.org/x/sys/cpu, which also checks that
// the operating system saves the wide registers (XGETBV): a CPU with AVX-512
// under an OS that does not enable its state must use the AVX2 kernels.
package cpu

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	xcpu "golang.org/x/sys/cpu"
)

// Level is the widest family of vector kernels this CPU runs.
type Level int

const (
	// Generic: no vector kernels of ours (other architectures, or x86-64
	// without AVX2/FMA); plain Go loops.
	Generic Level = iota
	// AVX2 with FMA3 (Haswell and later, every AMD Zen).
	AVX2
	// AVX-512 Foundation with DQ, BW and VL (Skylake-SP and later, Zen 4).
	AVX512
)

func (l Level) String() string {
	switch l {
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "generic"
}

// override lets tests and the STARID_CPU environment variable lower the
// level, so the narrower kernels are exercised on a wider machine. It can
// never raise it: a kernel the CPU cannot run would crash with SIGILL.
// Kernels ask Current on every call, so it is one atomic load: the level
// plus one when set, 0 when not.
var override atomic.Int32

// Detected is the level the hardware and OS support, ignoring overrides.
func Detected() Level {
	if runtime.GOARCH != "amd64" {
		return Generic
	}
	x := xcpu.X86
	if !(x.HasAVX2 && x.HasFMA) {
		return Generic
	}
	if x.HasAVX512F && x.HasAVX512DQ && x.HasAVX512BW && x.HasAVX512VL {
		return AVX512
	}
	return AVX2
}

var envLevel = sync.OnceValue(func() Level {
	l := Detected()
	switch strings.ToLower(strings.TrimSpace(os.Getenv("STARID_CPU"))) {
	case "generic":
		return Generic
	case "avx2":
		return min(l, AVX2)
	}
	return l
})

// Current is the level kernels should use: Detected, lowered by STARID_CPU
// (generic or avx2) or by SetLevel.
func Current() Level {
	if v := override.Load(); v > 0 {
		return Level(v - 1)
	}
	return envLevel()
}

// SetLevel lowers the level for the rest of the process (tests use it to
// run the AVX2 or pure-Go paths on a machine with more) and returns a
// function that restores the previous state. A level above Detected is
// clamped to Detected. Calls that overlap in time from several goroutines
// restore in any order only if each restores what it saw, so tests that
// change the level must not run in parallel with each other.
func SetLevel(l Level) (restore func()) {
	prev := override.Swap(int32(min(l, Detected())) + 1)
	return func() { override.Store(prev) }
}

// HasAVX2FMA reports whether AVX2 and FMA kernels may run (Current >= AVX2).
func HasAVX2FMA() bool { return Current() >= AVX2 }

// HasAVX512 reports whether AVX-512 kernels may run (Current >= AVX512).
func HasAVX512() bool { return Current() >= AVX512 }

// Model is the processor's name as the OS reports it ("AMD EPYC 7B13",
// "Intel(R) Xeon(R) Platinum 8488C"), or the architecture when unknown.
var Model = sync.OnceValue(func() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	var name, family, model string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if name != "" { // end of the first processor's block
				break
			}
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			name = strings.TrimSpace(v)
		case "cpu family":
			family = strings.TrimSpace(v)
		case "model":
			model = strings.TrimSpace(v)
		}
	}
	if name == "" {
		return runtime.GOARCH
	}
	if family != "" && model != "" {
		name += fmt.Sprintf(" (family %s, model %s)", family, model)
	}
	return name
})

// Describe is one line for logs and reports: model, cores and the vector
// level in use (and the detected one when an override lowered it).
func Describe() string {
	s := fmt.Sprintf("%s, %d logical CPUs, kernels %s", Model(), runtime.NumCPU(), Current())
	if d := Detected(); d != Current() {
		s += fmt.Sprintf(" (CPU supports %s)", d)
	}
	return s
}
