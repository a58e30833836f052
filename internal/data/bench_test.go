package data

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkCelebrity17 times what the first training epoch waits for on the
// tutorial's photos: the scan (read, hash, header checks) and one epoch of
// decoding and resizing to 64x64 with the cache empty, then a second epoch
// served from the cache. It skips when the photos are not there.
func BenchmarkCelebrity17(b *testing.B) {
	root := filepath.Join("..", "..", "..", "shared", "data", "celebrity17")
	if _, err := os.Stat(root); err != nil {
		b.Skip("photos not available:", err)
	}
	var scan, first, cached time.Duration
	for b.Loop() {
		t0 := time.Now()
		ds, err := Scan(root, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		idx := make([]int, len(ds.Samples))
		for i := range idx {
			idx[i] = i
		}
		l := NewLoader(ds, idx, Transform{Size: 64}, 64, LoaderOptions{})
		for _, err := range l.Epoch(false, nil) {
			if err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		for _, err := range l.Epoch(false, nil) {
			if err != nil {
				b.Fatal(err)
			}
		}
		scan += t1.Sub(t0)
		first += t2.Sub(t1)
		cached += time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(scan.Milliseconds())/n, "scan-ms")
	b.ReportMetric(float64(first.Milliseconds())/n, "epoch1-ms")
	b.ReportMetric(float64(cached.Milliseconds())/n, "cached-epoch-ms")
}
