//go:build unix

package faces

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"starid/internal/data"
	"starid/internal/tensor"
)

// BenchmarkDetect times one Detect on sample1 (decoding excluded) per input
// size. Profile with
//
//	go test -run '^$' -bench Detect -cpuprofile cpu.out ./internal/faces/
func BenchmarkDetect(b *testing.B) {
	d, dir := realDetector(b)
	img := loadPhoto(b, SamplePhotos(dir)[0])
	for _, size := range []int{320, 416, 512, 608} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			if _, err := d.Detect(img, size, 0.5); err != nil { // builds the net
				b.Fatal(err)
			}
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := d.Detect(img, size, 0.5); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time per call, which other processes on a shared
			// machine inflate far less than the wall time.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envCeleb names the folder TestDetectCoverage measures (one sub-folder of
// photos per person).
const envCeleb = "STARID_CELEB"

// coverageSizes are the sizes TestDetectCoverage runs on every photo.
var coverageSizes = []int{320, 416, 512, 608}

// coveragePhoto is what each size found on one photo and how long it took.
type coveragePhoto struct {
	found map[int]bool
	ms    map[int]float64
}

// TestDetectCoverage measures detection policies on a folder of photos:
// how many photos get at least one face above 0.5, and the detector time
// per photo (decoding excluded). Every size runs once on every photo; a
// policy's count and time are then computed from those runs. It runs only
// when asked:
//
//	STARID_CELEB=/work/shared/data/celebrity17 go test -run TestDetectCoverage -v -timeout 30m ./internal/faces/
func TestDetectCoverage(t *testing.T) {
	root := os.Getenv(envCeleb)
	if root == "" {
		t.Skipf("skipping: set %s to a folder of photos (a sub-folder per person) to measure detector coverage", envCeleb)
	}
	d, _ := realDetector(t)
	var paths []string
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff":
			if !e.IsDir() {
				paths = append(paths, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	var photos []coveragePhoto
	var undecodable int
	for i, p := range paths {
		img, err := decodeForCoverage(p)
		if err != nil {
			undecodable++
			continue
		}
		ph := coveragePhoto{found: map[int]bool{}, ms: map[int]float64{}}
		for _, s := range coverageSizes {
			t0 := time.Now()
			dets, err := d.Detect(img, s, 0.5)
			ph.ms[s] = float64(time.Since(t0).Microseconds()) / 1000
			if err != nil {
				t.Fatalf("%s at %d: %v", p, s, err)
			}
			ph.found[s] = len(dets) > 0
		}
		photos = append(photos, ph)
		if (i+1)%200 == 0 {
			t.Logf("%d/%d photos", i+1, len(paths))
		}
	}
	t.Logf("%d photos under %s (%d could not be decoded), threshold 0.5", len(photos), root, undecodable)

	// A policy runs sizes in order, stopping after the first that finds a
	// face when stopEarly (the fallback policies).
	type policy struct {
		name      string
		sizes     []int
		stopEarly bool
	}
	policies := []policy{
		{"320 only", []int{320}, false},
		{"416 only", []int{416}, false},
		{"512 only", []int{512}, false},
		{"608 only", []int{608}, false},
		{"416, then 608 if none", []int{416, 608}, true},
		{"416, then 320 if none", []int{416, 320}, true},
		{"416, then 512 if none", []int{416, 512}, true},
		{"416, then 320, 512, 608 until one finds", []int{416, 320, 512, 608}, true},
		{"416, then 608, 512, 320 until one finds", []int{416, 608, 512, 320}, true},
		{"always 416 + 608", []int{416, 608}, false},
		{"always 320 + 416 + 512 + 608", []int{320, 416, 512, 608}, false},
	}
	t.Logf("%-42s %8s %8s %10s", "policy", "found", "missed", "ms/photo")
	for _, pol := range policies {
		found, total := 0, 0.0
		for _, ph := range photos {
			hit := false
			for _, s := range pol.sizes {
				total += ph.ms[s]
				hit = hit || ph.found[s]
				if hit && pol.stopEarly {
					break
				}
			}
			if hit {
				found++
			}
		}
		t.Logf("%-42s %8d %8d %10.2f", pol.name, found, len(photos)-found, total/float64(len(photos)))
	}
	// The claim: photos that 416 misses but another size finds.
	only := 0
	for _, ph := range photos {
		if !ph.found[416] && (ph.found[320] || ph.found[512] || ph.found[608]) {
			only++
		}
	}
	t.Logf("missed at 416 but found at 320, 512 or 608: %d of %d (%.1f%%)", only, len(photos), 100*float64(only)/float64(max(len(photos), 1)))
}

// decodeForCoverage decodes a photo, reporting errors instead of failing:
// a data set may hold a broken file.
func decodeForCoverage(p string) (*Image, error) {
	rgba, err := data.DecodeFile(p, data.DefaultMaxPixels)
	if err != nil {
		return nil, err
	}
	return FromImage(rgba), nil
}

// BenchmarkDetectLayers times each layer of the net at 416 on sample1, so
// a profile's hot spots can be read per layer (ms per layer as metrics).
func BenchmarkDetectLayers(b *testing.B) {
	d, dir := realDetector(b)
	img := loadPhoto(b, SamplePhotos(dir)[0])
	net := d.nets.acquire()
	defer d.nets.release(net)
	const size = 416
	spent := make([]time.Duration, len(net.seq.Layers)+1)
	var x *tensor.Tensor
	for b.Loop() {
		t0 := time.Now()
		net.in = img.NetInput(net.in, size, false, detMean, 255)
		spent[0] += time.Since(t0)
		x = net.in
		for i, l := range net.seq.Layers {
			t0 := time.Now()
			var err error
			if x, err = l.Forward(x); err != nil {
				b.Fatal(err)
			}
			spent[i+1] += time.Since(t0)
		}
	}
	b.ReportMetric(float64(spent[0].Microseconds())/1000/float64(b.N), "ms/input")
	for i, l := range net.seq.Layers {
		name := strings.SplitN(l.String(), "(", 2)[0]
		b.ReportMetric(float64(spent[i+1].Microseconds())/1000/float64(b.N), fmt.Sprintf("ms/%02d-%s", i, name))
	}
}
