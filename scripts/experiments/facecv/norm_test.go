package main

import (
	"math"
	"testing"
)

// The spaces must keep the direction and set the length as documented, or
// the table in docs/EXPERIMENTS.md would compare something else.
func TestSpaces(t *testing.T) {
	x := [][]float32{{3, 4}, {0, 2}} // lengths 5 and 2, mean 3.5
	cases := []struct {
		kind string
		want float64 // length of the first row in the space
	}{
		{"raw", 5}, {"l2", 1}, {"l2mean", 3.5}, {"pow0", 3.5}, {"pow1", 5}, {"pow2", 3.5 * (5 / 3.5) * (5 / 3.5)},
	}
	for _, c := range cases {
		f, err := space(c.kind, x)
		if err != nil {
			t.Fatal(err)
		}
		v := f(x[0])
		if got := lengthOf(v); math.Abs(got-c.want) > 1e-5 {
			t.Errorf("%s: length %v, want %v", c.kind, got, c.want)
		}
		if cos := (float64(v[0])*3 + float64(v[1])*4) / (5 * lengthOf(v)); math.Abs(cos-1) > 1e-6 {
			t.Errorf("%s: direction changed (cosine %v)", c.kind, cos)
		}
	}
	for _, bad := range []string{"powx", "cosine"} {
		if _, err := space(bad, x); err == nil {
			t.Errorf("space %q: no error", bad)
		}
	}
	if _, err := parseNorm("l2"); err != nil {
		t.Error(err)
	}
	if m, err := parseNorm("l2:pow0.5"); err != nil || m != (normMode{"l2", "pow0.5"}) {
		t.Errorf("parseNorm l2:pow0.5 = %v, %v", m, err)
	}
	if _, err := parseNorm("unit"); err == nil {
		t.Error("parseNorm unit: no error")
	}
}
