//go:build cgo

package tensor

// OpenBLAS is loaded with dlopen at the first GEMM rather than linked with
// -lopenblas. A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels from the
// CPU model once, in its load-time constructor, and falls back to Prescott's
// SSE3 kernels (5-7x slower) on models newer than the library. Linked, it
// loads before any Go code runs, so only a re-exec could change its mind;
// loaded by us, it sees the OPENBLAS_CORETYPE starid chose from the CPU's
// features (kernel.go). After loading, openblas_get_corename says what it
// really runs; when that is below what the CPU supports (a build that
// ignores the variable) or the library is missing, GEMM runs on starid's
// own Go kernels instead. A side effect: the binary no longer needs
// libopenblas-dev to build, nor OpenBLAS to start.

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

// The CBLAS ABI, declared here rather than through <cblas.h>, whose location
// differs between OpenBLAS packages.
typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc);
typedef void (*set_threads_fn)(int n);
typedef char *(*string_fn)(void);

static sgemm_fn starid_sgemm_ptr;
static set_threads_fn starid_set_threads_ptr;
static string_fn starid_corename_ptr;
static string_fn starid_config_ptr;

// starid_blas_open loads the library at path and resolves the four symbols
// starid uses. It returns NULL on success, else a message (dlerror's text
// or the missing symbol's name) valid until the next dl call.
static const char *starid_blas_open(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		return dlerror();
	}
	starid_sgemm_ptr = (sgemm_fn)dlsym(h, "cblas_sgemm");
	starid_set_threads_ptr = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
	starid_corename_ptr = (string_fn)dlsym(h, "openblas_get_corename");
	starid_config_ptr = (string_fn)dlsym(h, "openblas_get_config");
	if (!starid_sgemm_ptr || !starid_set_threads_ptr || !starid_corename_ptr || !starid_config_ptr) {
		dlclose(h);
		return "a symbol starid needs (cblas_sgemm, openblas_set_num_threads, openblas_get_corename, openblas_get_config) is missing";
	}
	return NULL;
}

static void starid_set_threads(int n) { starid_set_threads_ptr(n); }
static char *starid_corename(void) { return starid_corename_ptr(); }
static char *starid_config(void) { return starid_config_ptr(); }

static void starid_sgemm(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc) {
	starid_sgemm_ptr(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
*/
import "C"

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"starid/internal/cpu"
	"starid/internal/tensor/gogemm"
)

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// Backend names the GEMM implementation compiled in. KernelFamily says
// which kernels actually run.
const Backend = "openblas"

// openblasNames are tried in order: the soname Debian's alternatives system
// and most distributions provide, the development symlink, then macOS's.
var openblasNames = []string{"libopenblas.so.0", "libopenblas.so", "libopenblas.dylib"}

// blasState is the outcome of loading OpenBLAS, fixed for the process.
type blasState struct {
	loaded  bool   // OpenBLAS's symbols are resolved
	config  string // openblas_get_config, or why OpenBLAS is not loaded
	verdict blasVerdict
}

// blasOnce loads OpenBLAS at the first GEMM (or KernelFamily call), so the
// environment is read after every init and the warnings come from the
// commands that do GEMM, once per process.
var blasOnce = sync.OnceValue(func() blasState {
	st := loadOpenBLAS()
	if st.verdict.warning != "" {
		fmt.Fprintln(os.Stderr, st.verdict.warning)
	}
	return st
})

func loadOpenBLAS() blasState {
	detected := cpu.Detected()
	p := planLoad(os.Getenv(envCoretype), os.Getenv(envSimulate), detected, cpu.Model())
	if p.warning != "" {
		fmt.Fprintln(os.Stderr, p.warning)
	}
	errs := withCoretype(p, func() []string {
		var errs []string
		for _, name := range openblasNames {
			cs := C.CString(name)
			msg := C.starid_blas_open(cs)
			C.free(unsafe.Pointer(cs))
			if msg == nil {
				return nil
			}
			errs = append(errs, C.GoString(msg))
		}
		return errs
	})
	if errs != nil {
		why := "OpenBLAS not found: " + strings.Join(errs, "; ")
		return blasState{config: why, verdict: blasVerdict{useGo: true, level: gogemm.Level(),
			family: goFamily() + " (OpenBLAS not found; using starid's kernels)"}}
	}
	// One OpenBLAS thread: parallelism is ours (goroutines over images or
	// column blocks), so OpenBLAS's own pool would only oversubscribe.
	C.starid_set_threads(1)
	core := C.GoString(C.starid_corename())
	return blasState{loaded: true, config: C.GoString(C.starid_config()),
		verdict: judgeCore(core, p, detected, gogemm.Level(), goFamily())}
}

// withCoretype runs load with OPENBLAS_CORETYPE as the plan says, then puts
// the variable back as it was, so programs starid starts (tests re-running
// their binary, for one) do not take starid's choice for the user's.
// os.Setenv reaches the C environment OpenBLAS's constructor reads because
// this file makes the binary a cgo one.
func withCoretype[T any](p blasPlan, load func() T) T {
	if p.userSet || p.coretype == "" {
		return load()
	}
	prev, had := os.LookupEnv(envCoretype)
	os.Setenv(envCoretype, p.coretype)
	defer func() {
		if had {
			os.Setenv(envCoretype, prev)
		} else {
			os.Unsetenv(envCoretype)
		}
	}()
	return load()
}

// BackendConfig is OpenBLAS's build description (version, kernel,
// threading), or why it is not in use.
func BackendConfig() string { return blasOnce().config }

// KernelFamily names the GEMM kernels this process runs, such as
// "openblas Zen (avx2)" or "go-avx2 (OpenBLAS ran Prescott; using starid's
// kernels)".
func KernelFamily() string { return blasOnce().verdict.family }

// KernelLevel is the vector level of the GEMM kernels this process runs.
func KernelLevel() cpu.Level { return blasOnce().verdict.level }

func gemmBackend(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if blasOnce().verdict.useGo {
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	ta, tb := C.int(cblasNoTrans), C.int(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	C.starid_sgemm(cblasRowMajor, ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
