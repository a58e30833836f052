//go:build cgo

package tensor

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"

	"starid/internal/cpu"
)

// OpenBLAS reads OPENBLAS_CORETYPE once per process, so each setting is
// tried in a fresh process: the test binary re-run on TestKernelChild.
const childEnv = "STARID_KERNEL_CHILD"

// TestKernelChild runs only inside runKernelChild: it reports the kernel
// family and checks GEMM's results against the float64 reference.
func TestKernelChild(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		t.Skip("runs only as a subprocess of the kernel-choice tests")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{1, 1, 1}, {7, 13, 5}, {64, 300, 27}, {130, 70, 576}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			a, b := randSlice(r, m*k), randSlice(r, k*n)
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			c0 := randSlice(r, m*n)
			want := append([]float32(nil), c0...)
			naiveGemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, want, n)
			got := append([]float32(nil), c0...)
			Gemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 2, got, n)
			if d := MaxAbsDiff(got, want); d > 1e-4*float64(k+1) {
				t.Errorf("m=%d n=%d k=%d trans=%v: max diff %g", m, n, k, tr, d)
			}
		}
	}
	t.Logf("FAMILY=%s", KernelFamily())
	t.Logf("LEVEL=%s", KernelLevel())
	t.Logf("CORETYPE_AFTER=%s", os.Getenv(envCoretype))
}

// runKernelChild re-runs the test binary with env added to a copy of ours
// stripped of every variable that steers the kernel choice, and returns
// what the child logged as KEY=value, and its standard error.
func runKernelChild(t *testing.T, env ...string) (logged map[string]string, stderr string) {
	t.Helper()
	if !blasOnce().loaded {
		t.Skipf("OpenBLAS is not loaded here (%s)", BackendConfig())
	}
	if cpu.Detected() < cpu.AVX2 {
		t.Skip("on a CPU below AVX2 every OpenBLAS core is at the CPU's level: nothing to fall back from")
	}
	var base []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != envCoretype && k != envSimulate && k != "STARID_CPU" && k != childEnv {
			base = append(base, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelChild$", "-test.v", "-test.count=1")
	cmd.Env = append(append(base, childEnv+"=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("child with %v: %v\nstdout:\n%s\nstderr:\n%s", env, err, out.String(), errb.String())
	}
	logged = map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		for _, key := range []string{"FAMILY", "LEVEL", "CORETYPE_AFTER"} {
			if _, v, ok := strings.Cut(line, key+"="); ok {
				logged[key] = v
			}
		}
	}
	if logged["FAMILY"] == "" || logged["LEVEL"] == "" {
		t.Fatalf("child with %v printed no family or level:\n%s", env, out.String())
	}
	return logged, errb.String()
}

func TestSimulatedWrongGuessFallsBackToGoKernels(t *testing.T) {
	got, stderr := runKernelChild(t, envSimulate+"=Prescott")
	family, level := got["FAMILY"], got["LEVEL"]
	if !strings.HasPrefix(family, goFamily()) || !strings.Contains(family, "OpenBLAS ran Prescott") {
		t.Fatalf("with %s=Prescott the family is %q, want starid's kernels after OpenBLAS ran Prescott", envSimulate, family)
	}
	if level != cpu.Current().String() {
		t.Errorf("fallback level %s, want %s", level, cpu.Current())
	}
	if stderr != "" {
		t.Errorf("the simulated wrong guess printed to stderr: %q", stderr)
	}
}

func TestUserCoretypeRespectedWithOneWarning(t *testing.T) {
	got, stderr := runKernelChild(t, envCoretype+"=Prescott")
	family, level := got["FAMILY"], got["LEVEL"]
	if !strings.HasPrefix(family, "openblas Prescott") {
		t.Fatalf("with %s=Prescott the family is %q, want OpenBLAS's Prescott kernels", envCoretype, family)
	}
	if level != cpu.Generic.String() {
		t.Errorf("level %s, want %s", level, cpu.Generic)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], envCoretype+"=Prescott") {
		t.Fatalf("want exactly one warning line naming %s=Prescott, got %q", envCoretype, stderr)
	}
}

func TestDefaultChoiceInFreshProcess(t *testing.T) {
	// The child starts with no OPENBLAS_CORETYPE: starid's own choice must
	// load kernels at the CPU's level, silently, and leave no variable behind.
	got, stderr := runKernelChild(t)
	family, level := got["FAMILY"], got["LEVEL"]
	if !strings.HasPrefix(family, "openblas ") || level != cpu.Detected().String() {
		t.Fatalf("default family %q level %s, want OpenBLAS at %s", family, level, cpu.Detected())
	}
	if stderr != "" {
		t.Errorf("the default choice printed to stderr: %q", stderr)
	}
	if after := got["CORETYPE_AFTER"]; after != "" {
		t.Errorf("%s=%s left in the environment after loading", envCoretype, after)
	}
}

func TestMissingOpenBLASFallsBackToGoKernels(t *testing.T) {
	// Loading is retried here under names no system has; blasOnce, which
	// the process's GEMM uses, is left alone.
	saved := openblasNames
	openblasNames = []string{"libstarid-no-such-blas.so.0"}
	defer func() { openblasNames = saved }()
	st := loadOpenBLAS()
	if st.loaded || !st.verdict.useGo || st.verdict.level != cpu.Current() {
		t.Fatalf("without OpenBLAS: %+v, want starid's kernels at %v", st, cpu.Current())
	}
	if !strings.Contains(st.verdict.family, "OpenBLAS not found") || !strings.Contains(st.config, "libstarid-no-such-blas.so.0") {
		t.Fatalf("family %q, config %q: want both to say OpenBLAS was not found, naming the file", st.verdict.family, st.config)
	}
}
