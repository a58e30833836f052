package recognize

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// predict --csv: a photo's file name and the names a model gives are
// text a spreadsheet must not run; the numbers stay numbers.
func TestWriteCSVNeutralisesFormulas(t *testing.T) {
	d := -0.5
	preds := []Prediction{
		{Image: "=1+1.png", Faces: []Answer{{Box: [4]int{-3, 4, 5, 6}, Name: "@SUM(A1)", Confidence: 0.75, Distance: &d, Closest: "+x"}}},
		{Image: "-broken.png", Error: "=bad"},
	}
	var b bytes.Buffer
	if err := WriteCSV(&b, preds); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%q %v", rows, err)
	}
	face, broken := rows[1], rows[2]
	if face[0] != "'=1+1.png" || face[2] != "-3" || face[6] != "'@SUM(A1)" || face[8] != "0.7500" || face[9] != "-0.5000" || face[10] != "'+x" {
		t.Errorf("face row %q", face)
	}
	if broken[0] != "'-broken.png" || broken[12] != "'=bad" {
		t.Errorf("failed photo's row %q", broken)
	}
}
