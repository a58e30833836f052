package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memStats follows the server's resident memory from /proc.
type memStats struct {
	pid   int
	mu    *sync.Mutex
	start float64 // MB at the start
	peak  *float64
}

// startMemory samples the server's RSS every 100 ms until stop.
func startMemory(pid int, stop <-chan struct{}) memStats {
	m := memStats{pid: pid, mu: &sync.Mutex{}, peak: new(float64)}
	if pid <= 0 {
		return m
	}
	m.start = procMB(pid, "VmRSS")
	go every(100*time.Millisecond, stop, func() {
		rss := procMB(pid, "VmRSS")
		m.mu.Lock()
		*m.peak = max(*m.peak, rss)
		m.mu.Unlock()
	})
	return m
}

func (m memStats) print() {
	if m.pid <= 0 {
		return
	}
	m.mu.Lock()
	peak := *m.peak
	m.mu.Unlock()
	fmt.Printf("server RSS: %.0f MB at the start, peak %.0f MB while loaded (VmHWM since start %.0f MB), %.0f MB at the end\n",
		m.start, peak, procMB(m.pid, "VmHWM"), procMB(m.pid, "VmRSS"))
	time.Sleep(5 * time.Second)
	fmt.Printf("server RSS 5 s after the load: %.0f MB\n", procMB(m.pid, "VmRSS"))
}

// procMB reads a kB field of /proc/PID/status in MB (0 if unreadable).
func procMB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
