// Command serveload sends many recognize requests to a running `starid
// serve` from concurrent clients and reports throughput, latency
// percentiles and the status codes seen. With -pid it also reads the
// server's peak resident memory (VmHWM) and samples its RSS from /proc.
//
// Under attack (issue 17): -bombs N keeps N scan-bomb JPEGs in flight and
// -slow N keeps N slow bodies trickling in while the well-formed clients
// run, and the report checks that every well-formed upload was answered 200,
// or 503 with Retry-After only while every worker was busy.
//
//	go run ./bench/serveload -url http://127.0.0.1:8080 -n 2000 -c 32 -pid PID photo.jpg [more.jpg...]
//	go run ./bench/serveload -duration 60s -c 64 -bombs 4 -slow 18 -workers 2 -pid PID photos/*/*.jpg
//	go run ./bench/serveload -write-attacks DIR   # the attack files, for curl
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// config is the command line.
type config struct {
	url      string
	n, c     int
	duration time.Duration
	pid      int
	bombs    int
	slow     int
	workers  int
	bodies   [][]byte
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "server base URL")
	flag.IntVar(&cfg.n, "n", 2000, "requests in all (unless -duration)")
	flag.DurationVar(&cfg.duration, "duration", 0, "run for this long instead of -n requests")
	flag.IntVar(&cfg.c, "c", 32, "concurrent well-formed clients")
	flag.IntVar(&cfg.pid, "pid", 0, "server process id, for its memory")
	flag.IntVar(&cfg.bombs, "bombs", 0, "scan-bomb JPEG uploads kept in flight")
	flag.IntVar(&cfg.slow, "slow", 0, "slow bodies kept trickling (10 MB announced, 1 byte every 3 s)")
	flag.IntVar(&cfg.workers, "workers", 2, "the server's --max-concurrent, to judge its 503s")
	attacks := flag.String("write-attacks", "", "write the attack files to this folder and exit")
	flag.Parse()
	if *attacks != "" {
		if err := writeAttacks(*attacks); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() == 0 || cfg.n < 1 || cfg.c < 1 {
		fmt.Fprintln(os.Stderr, "usage: serveload [-url U] [-n 2000 | -duration 60s] [-c 32] [-bombs N] [-slow N] [-workers 2] [-pid PID] PHOTO...")
		os.Exit(1)
	}
	for _, p := range flag.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cfg.bodies = append(cfg.bodies, b)
	}
	if !run(cfg) {
		os.Exit(1)
	}
}

// answer is one well-formed request's outcome.
type answer struct {
	at         time.Time
	ms         float64
	code       int
	retryAfter bool
}

// run drives the load and the attacks, prints the report and says whether
// the server held.
func run(cfg config) bool {
	stop := make(chan struct{})
	var attackWG sync.WaitGroup
	att := &attackStats{codes: map[string]map[int]int{}}
	for range cfg.bombs {
		attackWG.Add(1)
		go func() { defer attackWG.Done(); att.bombLoop(cfg.url, stop) }()
	}
	for range cfg.slow {
		attackWG.Add(1)
		go func() { defer attackWG.Done(); att.slowLoop(cfg.url, stop) }()
	}
	health := startHealth(cfg.url, stop)
	mem := startMemory(cfg.pid, stop)

	answers, wall := wellFormed(cfg)
	close(stop)
	attackWG.Wait()
	return report(cfg, answers, wall, att, health.get(), mem)
}

// wellFormed runs the well-formed clients until -n requests or -duration.
func wellFormed(cfg config) ([]answer, time.Duration) {
	var next atomic.Int64
	var mu sync.Mutex
	var answers []answer
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.c},
	}
	start := time.Now()
	more := func() bool {
		if cfg.duration > 0 {
			return time.Since(start) < cfg.duration
		}
		return next.Add(1) <= int64(cfg.n)
	}
	var wg sync.WaitGroup
	for w := range cfg.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; more(); i += cfg.c {
				t0 := time.Now()
				resp, err := client.Post(cfg.url+"/api/v1/recognize", "application/octet-stream", bytes.NewReader(cfg.bodies[i%len(cfg.bodies)]))
				a := answer{at: time.Now(), code: -1}
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					a.code, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After") != ""
				}
				a.ms = float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return answers, time.Since(start)
}

// report prints the numbers and judges them.
func report(cfg config, answers []answer, wall time.Duration, att *attackStats, health []healthSample, mem memStats) bool {
	codes := map[int]int{}
	var okMS, allMS []float64
	held := true
	unjustified, unknown := 0, 0
	for _, a := range answers {
		codes[a.code]++
		allMS = append(allMS, a.ms)
		switch {
		case a.code == http.StatusOK:
			okMS = append(okMS, a.ms)
		case a.code == http.StatusServiceUnavailable && a.retryAfter:
			idle, known := idleAt(health, a.at, cfg.workers)
			if idle {
				unjustified++
			}
			if !known {
				unknown++
			}
		default:
			held = false
		}
	}
	slices.Sort(okMS)
	slices.Sort(allMS)
	fmt.Printf("well-formed: %d requests, %d clients, wall %.1f s, %.1f answered 200 per s\n",
		len(answers), cfg.c, wall.Seconds(), float64(len(okMS))/wall.Seconds())
	fmt.Printf("200 latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms; all answers p99 %.0f ms\n",
		pct(okMS, 0.5), pct(okMS, 0.99), pct(okMS, 1), pct(allMS, 0.99))
	fmt.Printf("status codes: %v (-1 = transport error)\n", codes)
	fmt.Printf("503s with a worker seen idle within 150 ms (/healthz every 50 ms): %d of %d (%d with no sample that close); "+
		"every worker busy in %.1f%% of %d samples\n", unjustified, codes[http.StatusServiceUnavailable], unknown,
		100*busyFraction(health, cfg.workers), len(health))
	att.print()
	mem.print()
	if !held {
		fmt.Println("FAIL: a well-formed upload got an answer other than 200 or 503 + Retry-After")
	}
	return held
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(p*float64(len(xs))))]
}

// healthSample is one /healthz reading.
type healthSample struct {
	at      time.Time
	running int
}

type healthLog struct {
	mu      sync.Mutex
	samples []healthSample
}

func (h *healthLog) get() []healthSample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.samples)
}

// startHealth polls /healthz every 50 ms until stop.
func startHealth(url string, stop <-chan struct{}) *healthLog {
	h := &healthLog{}
	client := &http.Client{Timeout: 5 * time.Second}
	go every(50*time.Millisecond, stop, func() {
		resp, err := client.Get(url + "/healthz")
		if err != nil {
			return
		}
		var v struct {
			Running int `json:"running"`
		}
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err == nil {
			h.mu.Lock()
			h.samples = append(h.samples, healthSample{time.Now(), v.Running})
			h.mu.Unlock()
		}
	})
	return h
}

// every calls f each period until stop closes; the samplers run in it.
func every(period time.Duration, stop <-chan struct{}, f func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		f()
	}
}

// idleAt says whether a /healthz sample within 150 ms of t saw a worker
// idle (a 503 then was not for lack of workers); known is false when no
// sample was that close (the poller, sharing the loaded server, was late).
func idleAt(samples []healthSample, t time.Time, workers int) (idle, known bool) {
	for _, s := range samples {
		if d := s.at.Sub(t); d > -150*time.Millisecond && d < 150*time.Millisecond {
			known = true
			if s.running < workers {
				return true, true
			}
		}
	}
	return false, known
}

func busyFraction(samples []healthSample, workers int) float64 {
	if len(samples) == 0 {
		return 0
	}
	n := 0
	for _, s := range samples {
		if s.running >= workers {
			n++
		}
	}
	return float64(n) / float64(len(samples))
}
