package cli

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// A text cell a spreadsheet would run as a formula is written with a
// quote in front; numbers, even negative ones, are written as they are.
func TestCSVNeutralisesFormulas(t *testing.T) {
	var b bytes.Buffer
	c := NewCSV(&b)
	c.Row("name", "distance", "rank", "unknown")
	c.Row("=HYPERLINK(\"http://x\")", Float(-0.25, 4), 3, true)
	c.Row("+1", Float(1.5, 1), -2, false)
	c.Row("-x", "@sum", "\tx", "\rx")
	c.Row("a=b", "", Float(0, 4), "plain")
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"name", "distance", "rank", "unknown"},
		{"'=HYPERLINK(\"http://x\")", "-0.2500", "3", "true"},
		{"'+1", "1.5", "-2", "false"},
		{"'-x", "'@sum", "'\tx", "'\rx"},
		{"a=b", "", "0.0000", "plain"},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows %q, want %q", len(rows), rows, want)
	}
	for i := range want {
		for j := range want[i] {
			if rows[i][j] != want[i][j] {
				t.Errorf("row %d cell %d: got %q, want %q", i, j, rows[i][j], want[i][j])
			}
		}
	}
}
