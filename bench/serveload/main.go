// Command serveload sends many recognize requests to a running `starid
// serve` from concurrent clients and reports throughput, latency
// percentiles and the status codes seen. With -pid it also reads the
// server's peak resident memory (VmHWM) from /proc.
//
//	go run ./bench/serveload -url http://127.0.0.1:8080 -n 2000 -c 32 -pid PID photo.jpg [more.jpg...]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	n := flag.Int("n", 2000, "requests in all")
	c := flag.Int("c", 32, "concurrent clients")
	pid := flag.Int("pid", 0, "server process id, for its peak RSS")
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || *c < 1 {
		fmt.Fprintln(os.Stderr, "usage: serveload [-url U] [-n 2000] [-c 32] [-pid PID] PHOTO...")
		os.Exit(1)
	}
	var bodies [][]byte
	for _, p := range flag.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bodies = append(bodies, b)
	}
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[int]int{}
	var okMS []float64
	client := &http.Client{Timeout: 2 * time.Minute}
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				t0 := time.Now()
				resp, err := client.Post(*url+"/api/v1/recognize", "application/octet-stream", bytes.NewReader(bodies[i%int64(len(bodies))]))
				code := -1
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				}
				ms := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				codes[code]++
				if code == http.StatusOK {
					okMS = append(okMS, ms)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	slices.Sort(okMS)
	pct := func(p float64) float64 {
		if len(okMS) == 0 {
			return 0
		}
		return okMS[min(len(okMS)-1, int(p*float64(len(okMS))))]
	}
	fmt.Printf("requests %d, clients %d, wall %.1f s, %.1f req/s overall, %.1f answered (200) per s\n",
		*n, *c, wall, float64(*n)/wall, float64(len(okMS))/wall)
	fmt.Printf("200 latency: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", pct(0.5), pct(0.99), pct(1))
	fmt.Printf("status codes: %v (-1 = transport error)\n", codes)
	if *pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", *pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmHWM") {
					fmt.Println("server peak RSS:", strings.Join(strings.Fields(l)[1:], " "))
				}
			}
		}
	}
}
