package cpu

import (
	"runtime"
	"strings"
	"testing"

	xcpu "golang.org/x/sys/cpu"
)

func TestDetectedMatchesFeatureBits(t *testing.T) {
	d := Detected()
	if runtime.GOARCH != "amd64" {
		if d != Generic {
			t.Fatalf("Detected() = %v on %s, want generic", d, runtime.GOARCH)
		}
		return
	}
	x := xcpu.X86
	if d >= AVX2 && !(x.HasAVX2 && x.HasFMA) {
		t.Fatalf("Detected() = %v without AVX2+FMA", d)
	}
	if d >= AVX512 && !x.HasAVX512F {
		t.Fatalf("Detected() = %v without AVX-512F", d)
	}
	if d == Generic && x.HasAVX2 && x.HasFMA {
		t.Fatalf("Detected() = generic on a CPU with AVX2 and FMA")
	}
	t.Logf("%s", Describe())
}

func TestSetLevelLowersAndRestores(t *testing.T) {
	before := Current()
	restore := SetLevel(Generic)
	if Current() != Generic || HasAVX2FMA() || HasAVX512() {
		t.Fatalf("after SetLevel(Generic): Current()=%v", Current())
	}
	inner := SetLevel(AVX512) // clamped to what the CPU has
	if Current() > Detected() {
		t.Fatalf("SetLevel raised the level above Detected: %v > %v", Current(), Detected())
	}
	inner()
	if Current() != Generic {
		t.Fatalf("inner restore gave %v, want generic", Current())
	}
	restore()
	if Current() != before {
		t.Fatalf("restore gave %v, want %v", Current(), before)
	}
}

func TestDescribeNamesTheLevel(t *testing.T) {
	if s := Describe(); !strings.Contains(s, Current().String()) {
		t.Fatalf("Describe() = %q does not name level %v", s, Current())
	}
}
