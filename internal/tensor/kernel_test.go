package tensor

import (
	"os"
	"strings"
	"testing"

	"starid/internal/cpu"
)

// TestGemmKernelMatchesCPU is the guard of issue 11: it fails when the GEMM
// this process runs uses kernels below what the CPU supports (OpenBLAS's
// Prescott kernels on an AVX2 machine, say), whatever the build.
// goBestLevel is the widest kernel package gogemm has.
const goBestLevel = cpu.AVX2

func TestGemmKernelMatchesCPU(t *testing.T) {
	want := cpu.Detected()
	if os.Getenv("STARID_CPU") != "" {
		want = cpu.Current() // lowered on purpose, to test narrower kernels
	}
	if u := os.Getenv(envCoretype); u != "" && coreLevel(u) < want && Backend == "openblas" {
		t.Skipf("%s=%s asks for slower kernels on purpose", envCoretype, u)
	}
	if strings.HasPrefix(KernelFamily(), "go-") && want > goBestLevel {
		// starid's own kernels stop at AVX2 (no AVX-512 kernel yet: none
		// could be run where they were written); hold them to that.
		t.Logf("starid's kernels run AVX2 at best; this CPU has %v", want)
		want = goBestLevel
	}
	if got := KernelLevel(); got < want {
		t.Fatalf("GEMM runs %q (level %v) on a CPU with %v (%s)", KernelFamily(), got, want, cpu.Describe())
	}
	if KernelFamily() == "" {
		t.Fatal("KernelFamily is empty")
	}
	t.Logf("GEMM kernels: %s; CPU: %s", KernelFamily(), cpu.Describe())
}

func TestCoreLevel(t *testing.T) {
	for core, want := range map[string]cpu.Level{
		"Prescott": cpu.Generic, "Core2": cpu.Generic, "Nehalem": cpu.Generic, "Barcelona": cpu.Generic,
		"Sandybridge": cpu.Generic, "Piledriver": cpu.Generic, "Excavator": cpu.Generic, "Unknown": cpu.Generic,
		"": cpu.Generic, "armv8": cpu.Generic,
		"Haswell": cpu.AVX2, "Zen": cpu.AVX2, "haswell": cpu.AVX2, " ZEN ": cpu.AVX2,
		"SkylakeX": cpu.AVX512, "Cooperlake": cpu.AVX512, "SapphireRapids": cpu.AVX512,
	} {
		if got := coreLevel(core); got != want {
			t.Errorf("coreLevel(%q) = %v, want %v", core, got, want)
		}
	}
}

func TestChooseCoretype(t *testing.T) {
	for _, c := range []struct {
		level cpu.Level
		model string
		want  string
	}{
		{cpu.AVX512, "Intel(R) Xeon(R) Platinum 8488C (family 6, model 143)", "SkylakeX"},
		{cpu.AVX512, "AMD EPYC 9R14 96-Core Processor (family 25, model 17)", "SkylakeX"},
		{cpu.AVX2, "AMD EPYC 7B13 (family 25, model 1)", "Zen"},
		{cpu.AVX2, "Hygon C86 7185 32-core Processor", "Zen"},
		{cpu.AVX2, "Intel(R) Core(TM) i7-4770 CPU @ 3.40GHz", "Haswell"},
		{cpu.AVX2, "amd64", "Haswell"},
		{cpu.Generic, "Intel(R) Core(TM)2 Duo CPU", ""},
	} {
		got := chooseCoretype(c.level, c.model)
		if got != c.want {
			t.Errorf("chooseCoretype(%v, %q) = %q, want %q", c.level, c.model, got, c.want)
		}
		// Whatever we ask for must be a core whose kernels reach the CPU's
		// level, or the check after loading would reject our own choice.
		if got != "" && coreLevel(got) != c.level {
			t.Errorf("chooseCoretype(%v) = %q, whose level is %v", c.level, got, coreLevel(got))
		}
	}
}

func TestPlanLoad(t *testing.T) {
	const amd = "AMD EPYC 7B13"
	for _, c := range []struct {
		name, user, simulate string
		detected             cpu.Level
		want                 blasPlan
		warns                bool
	}{
		{"nothing set", "", "", cpu.AVX2, blasPlan{coretype: "Zen", ours: true}, false},
		{"old CPU", "", "", cpu.Generic, blasPlan{}, false},
		{"user slower", "Prescott", "", cpu.AVX2, blasPlan{coretype: "Prescott", userSet: true}, false},
		{"user equal", "Haswell", "", cpu.AVX2, blasPlan{coretype: "Haswell", userSet: true}, false},
		{"user above CPU", "SkylakeX", "", cpu.AVX2, blasPlan{coretype: "Zen", ours: true}, true},
		{"simulate", "", "Prescott", cpu.AVX2, blasPlan{coretype: "Prescott", simulated: true}, false},
		{"simulate wins", "Haswell", "Prescott", cpu.AVX512, blasPlan{coretype: "Prescott", simulated: true}, false},
		{"simulate above CPU", "", "SkylakeX", cpu.AVX2, blasPlan{coretype: "Zen", ours: true}, true},
	} {
		got := planLoad(c.user, c.simulate, c.detected, amd)
		if (got.warning != "") != c.warns {
			t.Errorf("%s: warning %q, want one: %v", c.name, got.warning, c.warns)
		}
		got.warning = ""
		if got != c.want {
			t.Errorf("%s: planLoad(%q, %q, %v) = %+v, want %+v", c.name, c.user, c.simulate, c.detected, got, c.want)
		}
	}
}

func TestJudgeCore(t *testing.T) {
	ours := blasPlan{coretype: "Zen", ours: true}
	user := blasPlan{coretype: "Prescott", userSet: true}
	sim := blasPlan{coretype: "Prescott", simulated: true}
	for _, c := range []struct {
		name     string
		core     string
		plan     blasPlan
		detected cpu.Level
		useGo    bool
		level    cpu.Level
		family   string // a part of KernelFamily's answer
		warns    bool
	}{
		{"match", "Zen", ours, cpu.AVX2, false, cpu.AVX2, "openblas Zen (avx2)", false},
		{"above the CPU", "Haswell", blasPlan{}, cpu.Generic, true, cpu.AVX2, "OpenBLAS loaded Haswell, which needs avx2", true},
		{"old CPU", "Core2", blasPlan{}, cpu.Generic, false, cpu.Generic, "openblas Core2", false},
		{"wrong guess", "Prescott", ours, cpu.AVX512, true, cpu.AVX2, "go-test (OpenBLAS ran Prescott", false},
		{"user forced", "Prescott", user, cpu.AVX2, false, cpu.Generic, "forced by OPENBLAS_CORETYPE", true},
		{"simulated", "Prescott", sim, cpu.AVX2, true, cpu.AVX2, "OpenBLAS ran Prescott", false},
		{"simulate ignored", "Zen", sim, cpu.AVX2, false, cpu.AVX2, "openblas Zen", true},
	} {
		v := judgeCore(c.core, c.plan, c.detected, cpu.AVX2, "go-test")
		if v.useGo != c.useGo || v.level != c.level || !strings.Contains(v.family, c.family) || (v.warning != "") != c.warns {
			t.Errorf("%s: judgeCore(%q) = %+v; want useGo=%v level=%v family containing %q, warning: %v",
				c.name, c.core, v, c.useGo, c.level, c.family, c.warns)
		}
		if strings.Contains(v.warning, "\n") {
			t.Errorf("%s: warning spans lines: %q", c.name, v.warning)
		}
	}
}
