package library

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DescriptorSize is the length of a face descriptor.
const DescriptorSize = 128

// LandmarkCount is the number of landmarks stored per face (iBUG 300-W).
const LandmarkCount = 68

// Face is one face a Describer found in a photo.
type Face struct {
	Box        [4]float64   // x, y, w, h in the photo's pixels
	Landmarks  [][2]float32 // LandmarkCount points, or nil
	Descriptor []float32    // DescriptorSize values
	Score      float64      // detector confidence in [0, 1]
	Quality    float64      // higher is better; the Describer defines it
	// Name, when not empty, names the face (a run recognized it): it goes
	// to the person of that name, made if the library has none.
	Name string
}

func (f *Face) check() error {
	if len(f.Descriptor) != DescriptorSize {
		return fmt.Errorf("face descriptor has %d values, want %d", len(f.Descriptor), DescriptorSize)
	}
	if f.Landmarks != nil && len(f.Landmarks) != LandmarkCount {
		return fmt.Errorf("face has %d landmarks, want %d", len(f.Landmarks), LandmarkCount)
	}
	for _, v := range f.Descriptor {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("face descriptor holds %v", v)
		}
	}
	return nil
}

// floatsBlob stores float32s little-endian, 4 bytes each: the same bytes
// in SQLite and PostgreSQL, and a 128-D descriptor in 512 bytes.
func floatsBlob(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func blobFloats(b []byte, into []float32) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("float blob of %d bytes is not whole float32s", len(b))
	}
	for i := 0; i < len(b); i += 4 {
		into = append(into, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return into, nil
}

func landmarksBlob(p [][2]float32) []byte {
	if p == nil {
		return nil
	}
	flat := make([]float32, 0, 2*len(p))
	for _, q := range p {
		flat = append(flat, q[0], q[1])
	}
	return floatsBlob(flat)
}

func blobLandmarks(b []byte) ([][2]float32, error) {
	if b == nil {
		return nil, nil
	}
	flat, err := blobFloats(b, nil)
	if err != nil || len(flat)%2 != 0 {
		return nil, fmt.Errorf("landmarks blob of %d bytes is not whole points", len(b))
	}
	out := make([][2]float32, len(flat)/2)
	for i := range out {
		out[i] = [2]float32{flat[2*i], flat[2*i+1]}
	}
	return out, nil
}
