package train

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"starid/internal/runs"
	"starid/internal/tensor"
)

// FuzzOpenRun feeds OpenRun model.json files derived from a real one
// beside real weights: whatever the file says, OpenRun answers with a run
// or an error, and a run it opens can score an image of its recorded size.
// `go test` runs the seeds; `go test -fuzz FuzzOpenRun ./internal/train`
// searches.
func FuzzOpenRun(f *testing.F) {
	good := filepath.Join(f.TempDir(), "run")
	if _, err := Train(context.Background(), tinyConfig(makeShapes(f, 3, 4), good, 1), Output{}); err != nil {
		f.Fatal(err)
	}
	info, err := os.ReadFile(filepath.Join(good, runs.ModelInfoFile))
	if err != nil {
		f.Fatal(err)
	}
	best, err := os.ReadFile(filepath.Join(good, runs.BestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(info)
	f.Add([]byte(`{"version":1,"model":"x","classes":["a"],"size":8,"std":[1,1,1],"spec":{"in_channels":3,"classes":1,"layers":[]}}`))
	f.Add([]byte(`{"version":1,"model":"face","classes":["a","b"]}`))
	f.Fuzz(func(t *testing.T, modelJSON []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, runs.ModelInfoFile), modelJSON, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, runs.BestFile), best, 0o644); err != nil {
			t.Fatal(err)
		}
		run, err := runs.OpenRun(dir)
		if err != nil || run.Model == nil {
			return
		}
		s := run.Info.Size
		y, err := run.Model.Forward(tensor.New(1, 3, s, s))
		if err != nil {
			t.Fatalf("opened run cannot score a %dx%d image: %v", s, s, err)
		}
		if len(y.Data) != len(run.Info.Classes) {
			t.Fatalf("%d scores for %d classes", len(y.Data), len(run.Info.Classes))
		}
	})
}
