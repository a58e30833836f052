//go:build unix

package faces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envBenchPhotos lists extra photos (separated by the OS path-list
// separator) for BenchmarkPipelineFaces, beside the face-api sample.
const envBenchPhotos = "STARID_BENCH_PHOTOS"

// benchPipelinePhotos is sample2 (a 1920x1367 portrait) plus the photos
// named in STARID_BENCH_PHOTOS, decoded once.
func benchPipelinePhotos(b *testing.B, dir string) []*Image {
	b.Helper()
	paths := []string{filepath.Join(dir, "demo", "sample2.jpg")}
	if extra := os.Getenv(envBenchPhotos); extra != "" {
		paths = append(paths, strings.Split(extra, string(os.PathListSeparator))...)
	}
	imgs := make([]*Image, len(paths))
	for i, p := range paths {
		imgs[i] = loadPhoto(b, p)
	}
	return imgs
}

// BenchmarkPipelineFaces times Pipeline.Faces per photo (decoding
// excluded) and, beside it, each stage of the first face: detection (with
// the fallback sizes), landmarks, the aligned chip and the descriptor. The
// stage metrics are CPU milliseconds per photo (getrusage, which other
// jobs on a shared machine inflate far less than wall time) and wall
// milliseconds. Profile with
//
//	STARID_BENCH_PHOTOS=a.jpg:b.jpg go test -run '^$' -bench PipelineFaces -cpuprofile cpu.out ./internal/faces/
func BenchmarkPipelineFaces(b *testing.B) {
	dir, err := ModelDir()
	if err != nil {
		b.Skipf("skipping: needs the face-api weights (run `starid models fetch`): %v", err)
	}
	p, err := LoadPipeline(dir)
	if err != nil {
		b.Fatal(err)
	}
	imgs := benchPipelinePhotos(b, dir)
	for _, img := range imgs { // builds every net
		if _, err := p.Faces(img); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("total", func(b *testing.B) {
		cpu0 := cpuTime()
		n := 0
		for b.Loop() {
			if _, err := p.Faces(imgs[n%len(imgs)]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(n), "cpu-ms/photo")
	})
	b.Run("stages", func(b *testing.B) {
		const stages = 4
		names := [stages]string{"detect", "marks", "chip", "desc"}
		var cpu, wall [stages]time.Duration
		n := 0
		for b.Loop() {
			img := imgs[n%len(imgs)]
			n++
			c, t := cpuTime(), time.Now()
			lap := func(i int) {
				c2, t2 := cpuTime(), time.Now()
				cpu[i] += c2 - c
				wall[i] += t2.Sub(t)
				c, t = c2, t2
			}
			dets, err := p.Det.DetectFallback(img, p.Sizes, p.MinScore)
			if err != nil {
				b.Fatal(err)
			}
			lap(0)
			if len(dets) == 0 {
				continue
			}
			marks, err := p.Marks.Landmarks(img, dets[0].Box)
			if err != nil {
				b.Fatal(err)
			}
			lap(1)
			chip, err := AlignedChip(img, marks, p.Template, nil)
			if err != nil {
				b.Fatal(err)
			}
			lap(2)
			if _, err := p.Rec.Describe(chip); err != nil {
				b.Fatal(err)
			}
			lap(3)
		}
		for i, name := range names {
			b.ReportMetric(float64(cpu[i].Microseconds())/1000/float64(n), name+"-cpu-ms")
			b.ReportMetric(float64(wall[i].Microseconds())/1000/float64(n), name+"-ms")
		}
	})
}
