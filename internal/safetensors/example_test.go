package safetensors_test

import (
	"fmt"
	"os"
	"path/filepath"

	"starid/internal/safetensors"
)

// Write a checkpoint of two tensors with metadata, then open it and read
// one back. Open reads only the header; the values are decoded when asked
// for, so listing a large checkpoint's tensors is cheap.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err = safetensors.WriteFile(path, []safetensors.Tensor{
		{Name: "fc.weight", Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "bn.num_batches_tracked", Shape: []int{}, I64: []int64{42}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		fmt.Println(err)
		return
	}

	f, err := safetensors.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	fmt.Println("metadata:", f.Metadata)
	for _, t := range f.Tensors {
		fmt.Printf("%s %s %v, bytes %d to %d\n", t.Name, t.DType, t.Shape, t.Begin, t.End)
	}
	w, err := f.Float32("fc.weight")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("fc.weight:", w)
	_, ok := f.Info("fc.bias")
	fmt.Println("fc.bias stored:", ok)
	// Output:
	// metadata: map[format:pt]
	// fc.weight F32 [2 3], bytes 0 to 24
	// bn.num_batches_tracked I64 [], bytes 24 to 32
	// fc.weight: [1 2 3 4 5 6]
	// fc.bias stored: false
}
