package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starid/internal/bench"
)

// TestLoad sends 2,000 recognition requests from 32 concurrent clients over
// loopback to a server with a fake recognizer, and reports throughput,
// latency percentiles and the process's peak RSS (client and server share
// the process). Anything but 200 and the deliberate 503 of a full queue
// fails it. It only runs with STARID_LOAD=1 (it takes seconds of both
// cores); STARID_LOAD_N overrides the request count.
//
//	STARID_LOAD=1 go test -run TestLoad -v ./internal/serve/
func TestLoad(t *testing.T) {
	if os.Getenv("STARID_LOAD") == "" {
		t.Skip("load test: set STARID_LOAD=1 to run it")
	}
	n := 2000
	if v := os.Getenv("STARID_LOAD_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("STARID_LOAD_N=%q", v)
		}
	}
	const clients = 32
	body := jpegBytes(t, 640, 480) // a small photo: decoding it is real work
	for _, c := range []struct {
		name  string
		queue int
	}{
		// Room for every client: nothing may be refused.
		{"queue-fits-all", clients},
		// The default queue: the surplus must get quick 503s, nothing else.
		{"default-queue", DefaultQueueLength},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &fakeRecognizer{faces: twoFaces, info: testInfo}
			s := New(rec, Options{QueueLength: c.queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- s.Serve(ctx, ln) }()
			defer func() {
				cancel()
				if err := <-served; err != nil {
					t.Error(err)
				}
			}()
			url := "http://" + ln.Addr().String() + pathRecognize
			client := &http.Client{
				Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients},
				Timeout:   time.Minute,
			}
			defer client.CloseIdleConnections()

			var next atomic.Int64
			var ok, busy atomic.Int64
			lat := make([][]time.Duration, clients)
			var wg sync.WaitGroup
			start := time.Now()
			for w := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(n) {
						t0 := time.Now()
						resp, err := client.Post(url, "image/jpeg", bytes.NewReader(body))
						if err != nil {
							t.Errorf("request: %v", err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						lat[w] = append(lat[w], time.Since(t0))
						switch {
						case resp.StatusCode == 200:
							ok.Add(1)
						case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
							busy.Add(1)
						default:
							t.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			all := slices.Concat(lat...)
			slices.Sort(all)
			pct := func(p float64) float64 {
				return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
			}
			t.Logf("%d requests, %d clients, queue %d, workers %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d ok, %d deliberate 503, peak RSS %.0f MB",
				len(all), clients, c.queue, s.opts.MaxConcurrent, float64(len(all))/elapsed.Seconds(),
				pct(0.50), pct(0.99), ok.Load(), busy.Load(), bench.PeakRSSMB())
			if int(ok.Load()+busy.Load()) != n {
				t.Errorf("%d answers for %d requests", ok.Load()+busy.Load(), n)
			}
			if c.queue >= clients && busy.Load() != 0 {
				t.Errorf("%d requests refused although the queue holds every client", busy.Load())
			}
			if ok.Load() == 0 {
				t.Error("no request succeeded")
			}
		})
	}
}

// BenchmarkRecognizeHandler is the server's own cost per photo (upload
// parsing, decoding a 640×480 JPEG, conversion, JSON) with a recognizer
// that takes no time, in process.
func BenchmarkRecognizeHandler(b *testing.B) {
	s := New(&fakeRecognizer{faces: twoFaces, info: testInfo}, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := s.Handler()
	body := jpegBytes(b, 640, 480)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "http://localhost"+pathRecognize, bytes.NewReader(body))
		req.Header.Set("Content-Type", "image/jpeg")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
