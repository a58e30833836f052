package tensor

import (
	"fmt"
	"strings"

	"starid/internal/cpu"
)

// This file holds the decisions behind "which GEMM kernels run", kept free of
// cgo so that both builds compile and test them. The cgo build (gemm_cblas.go)
// applies them around loading OpenBLAS; the !cgo build only has goFamily.

// Environment variables read once, before the first GEMM.
const (
	// envCoretype is OpenBLAS's own: a DYNAMIC_ARCH build reads it in its
	// load-time constructor to pick its kernels instead of guessing from the
	// CPU model. A value the user set is respected.
	envCoretype = "OPENBLAS_CORETYPE"
	// envSimulate is starid's: STARID_OPENBLAS_SIMULATE=Prescott loads
	// OpenBLAS with that core, as a CPU model it does not know would get it,
	// so the mismatch check and the fallback can be exercised (and timed) on a
	// machine OpenBLAS recognises. It is not a user setting: no warning is
	// printed, the check reacts exactly as it would to a wrong guess.
	envSimulate = "STARID_OPENBLAS_SIMULATE"
)

// coreLevels is which of our kernel levels each OpenBLAS core's sgemm
// kernels reach. Names are the ones openblas_get_corename returns and
// OPENBLAS_CORETYPE accepts (0.3.21's list, plus SapphireRapids from later
// releases), compared without case as OpenBLAS does. Every core not listed
// (Prescott, Core2, Nehalem, Barcelona, Sandybridge, Bulldozer, Piledriver,
// Steamroller, Excavator, the ARM cores, "Unknown") runs kernels below AVX2
// with FMA: Sandybridge's and the Bulldozer family's are AVX without the
// Haswell FMA kernels, so they count as Generic for our purposes.
var coreLevels = map[string]cpu.Level{
	"haswell":        cpu.AVX2,
	"zen":            cpu.AVX2,
	"skylakex":       cpu.AVX512,
	"cooperlake":     cpu.AVX512,
	"sapphirerapids": cpu.AVX512,
}

// coreLevel is the kernel level of an OpenBLAS core name.
func coreLevel(core string) cpu.Level {
	return coreLevels[strings.ToLower(strings.TrimSpace(core))]
}

// chooseCoretype is the OpenBLAS core starid asks for on a CPU of level l
// whose model string is model, or "" to leave the guess to OpenBLAS.
//
// AVX-512 gets SkylakeX rather than Cooperlake: the two share their sgemm
// kernels, Cooperlake only adds bfloat16 ones, and it would need a feature
// (AVX512_BF16) starid does not check; 0.3.21 does not even accept it in
// OPENBLAS_CORETYPE ("Core not found", then Haswell's kernels). AVX2 gets Zen on AMD (Haswell's
// kernels with blocking sized for Zen's caches, what OpenBLAS picks itself
// on the Zen models it knows) and Haswell elsewhere. Below AVX2 every core
// OpenBLAS might pick is at our Generic level, so its guess cannot be worse
// than ours. All three names are known to Debian 12's OpenBLAS 0.3.21.
func chooseCoretype(l cpu.Level, model string) string {
	switch l {
	case cpu.AVX512:
		return "SkylakeX"
	case cpu.AVX2:
		for _, w := range strings.Fields(model) { // "AMD EPYC 7B13", not "amd64"
			if w == "AMD" || w == "Hygon" {
				return "Zen"
			}
		}
		return "Haswell"
	}
	return ""
}

// blasPlan is what to do before loading OpenBLAS.
type blasPlan struct {
	coretype  string // value OPENBLAS_CORETYPE must have during the load; "" leaves it unset
	ours      bool   // coretype is starid's choice (set for the load only, then removed)
	userSet   bool   // the user set OPENBLAS_CORETYPE and it is kept
	simulated bool   // coretype comes from STARID_OPENBLAS_SIMULATE
	warning   string // one line for stderr, or ""
}

// planLoad decides the core to load from the user's OPENBLAS_CORETYPE, the
// simulate switch and the CPU. The CPU level is cpu.Detected, not Current:
// STARID_CPU lowers starid's own kernels for testing, while OpenBLAS has its
// own knob (OPENBLAS_CORETYPE). A requested core above what the CPU runs is
// replaced by ours (with a warning): 0.3.21 loads a forced SkylakeX on an
// AVX2-only CPU, whose first AVX-512 instruction would then kill starid.
func planLoad(user, simulate string, detected cpu.Level, model string) blasPlan {
	ours := chooseCoretype(detected, model)
	req, simulated := strings.TrimSpace(user), false
	if s := strings.TrimSpace(simulate); s != "" {
		req, simulated = s, true
	}
	if req == "" {
		return blasPlan{coretype: ours, ours: ours != ""}
	}
	if lv := coreLevel(req); lv > detected {
		name := envCoretype
		if simulated {
			name = envSimulate
		}
		return blasPlan{coretype: ours, ours: ours != "", warning: fmt.Sprintf(
			"starid: %s=%s needs %s kernels but this CPU runs %s; loading OpenBLAS with %q instead",
			name, req, lv, detected, ours)}
	}
	if simulated {
		return blasPlan{coretype: req, simulated: true}
	}
	return blasPlan{coretype: req, userSet: true}
}

// blasVerdict is what to do after loading OpenBLAS and reading its core.
type blasVerdict struct {
	useGo   bool   // run starid's Go kernels instead of OpenBLAS
	family  string // KernelFamily's answer
	level   cpu.Level
	warning string // one line for stderr, or ""
}

// judgeCore compares the core OpenBLAS actually runs with the CPU. A core
// above the CPU's level would crash; one below the CPU's level means OpenBLAS guessed wrong (a model newer than
// the library) or ignored OPENBLAS_CORETYPE (a build without DYNAMIC_ARCH):
// starid's own kernels are then the faster choice, unless the user asked
// for that core, in which case they get it and one line saying so.
func judgeCore(core string, p blasPlan, detected, goLevel cpu.Level, goName string) blasVerdict {
	v := judgeLevel(core, p, detected, goLevel, goName)
	if p.simulated && !strings.EqualFold(core, p.coretype) {
		// The switch did not take, so the run does not show what it claims to.
		v.warning = fmt.Sprintf("starid: %s=%s: OpenBLAS loaded %s instead (not a DYNAMIC_ARCH build?)",
			envSimulate, p.coretype, core)
	}
	return v
}

func judgeLevel(core string, p blasPlan, detected, goLevel cpu.Level, goName string) blasVerdict {
	lv := coreLevel(core)
	if lv > detected {
		// Kernels the CPU cannot run: 0.3.21 answers an OPENBLAS_CORETYPE it
		// does not know with Haswell's, and a build for one CPU runs its own
		// anywhere. The first GEMM would die on an illegal instruction.
		return blasVerdict{useGo: true, level: goLevel,
			family: fmt.Sprintf("%s (OpenBLAS loaded %s, which needs %s; using starid's kernels)", goName, core, lv),
			warning: fmt.Sprintf("starid: OpenBLAS loaded %s kernels, which need %s, on a CPU with %s; using starid's own GEMM",
				core, lv, detected)}
	}
	if lv == detected {
		return blasVerdict{family: fmt.Sprintf("openblas %s (%s)", core, lv), level: lv}
	}
	if p.userSet {
		return blasVerdict{
			family: fmt.Sprintf("openblas %s (%s, forced by %s)", core, lv, envCoretype),
			level:  lv,
			warning: fmt.Sprintf("starid: %s=%s runs OpenBLAS's %s kernels on a CPU with %s; unset it for full GEMM speed",
				envCoretype, p.coretype, lv, detected),
		}
	}
	return blasVerdict{useGo: true, level: goLevel,
		family: fmt.Sprintf("%s (OpenBLAS ran %s; using starid's kernels)", goName, core)}
}

// goFamily names starid's own GEMM kernels, for KernelFamily.
func goFamily() string { return goKernelName() }
