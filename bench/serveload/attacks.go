package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"starid/internal/data"
)

// scanBomb is issue 17 row 1's file: 5000×5000 grey, 5,000 scans.
var scanBomb = sync.OnceValue(func() []byte { return data.ScanBombJPEG(5000, 5000, 5000) })

// deepPNG is issue 17 row 10's file: a flat 16-bit RGBA PNG of w×h pixels,
// a few hundred KB that decode to 8 bytes a pixel.
func deepPNG(w, h int) ([]byte, error) {
	img := image.NewNRGBA64(image.Rect(0, 0, w, h))
	for i := range w * h {
		img.SetNRGBA64(i%w, i/w, color.NRGBA64{0x8000, 0x4000, 0x2000, 0xffff})
	}
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// writeAttacks writes the attack files for replaying them with curl.
func writeAttacks(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]func() ([]byte, error){
		"scanbomb-5000.jpg": func() ([]byte, error) { return scanBomb(), nil },
		"scanbomb-20.jpg":   func() ([]byte, error) { return data.ScanBombJPEG(5000, 5000, 19), nil },
		"deep16-25mp.png":   func() ([]byte, error) { return deepPNG(5000, 5000) },
		"deep16-12.5mp.png": func() ([]byte, error) { return deepPNG(3535, 3535) },
		// Not an attack: the largest well-formed photo the defaults take,
		// to measure what one worker holds.
		"large-25mp.jpg": func() ([]byte, error) {
			img := image.NewYCbCr(image.Rect(0, 0, 5000, 5000), image.YCbCrSubsampleRatio420)
			for i := range img.Y {
				img.Y[i] = uint8(i*7 + i/5000*3)
			}
			var b bytes.Buffer
			err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
			return b.Bytes(), err
		},
		"over-limit-5001x5000.png": func() ([]byte, error) {
			var b bytes.Buffer
			err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 5001, 5000)))
			return b.Bytes(), err
		},
	}
	for name, make := range files {
		b, err := make()
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%s: %d bytes\n", filepath.Join(dir, name), len(b))
	}
	return nil
}

// attackStats counts the attacks' answers by kind and status.
type attackStats struct {
	mu    sync.Mutex
	codes map[string]map[int]int
	ms    map[string][]float64
}

func (a *attackStats) add(kind string, code int, took time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.codes[kind] == nil {
		a.codes[kind] = map[int]int{}
	}
	a.codes[kind][code]++
	if a.ms == nil {
		a.ms = map[string][]float64{}
	}
	a.ms[kind] = append(a.ms[kind], float64(took.Microseconds())/1000)
}

func (a *attackStats) print() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, kind := range []string{"scan bomb", "slow body"} {
		if a.codes[kind] == nil {
			continue
		}
		ms := slices.Sorted(slices.Values(a.ms[kind]))
		fmt.Printf("%s: answers %v, time to answer p50 %.0f ms, max %.0f ms\n", kind, a.codes[kind], pct(ms, 0.5), pct(ms, 1))
	}
}

// bombLoop posts the scan bomb again as soon as each answer comes.
func (a *attackStats) bombLoop(base string, stop <-chan struct{}) {
	client := &http.Client{Timeout: 5 * time.Minute}
	a.repeat("scan bomb", 100*time.Millisecond, stop, func() int {
		resp, err := client.Post(base+"/api/v1/recognize", "image/jpeg", bytes.NewReader(scanBomb()))
		if err != nil {
			return -1
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	})
}

// repeat runs attack until stop closes, recording each answer (its status,
// -1 when none came) under kind with the time it took, and waiting backoff
// after an attack that got no answer.
func (a *attackStats) repeat(kind string, backoff time.Duration, stop <-chan struct{}, attack func() int) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		t0 := time.Now()
		code := attack()
		a.add(kind, code, time.Since(t0))
		if code == -1 {
			time.Sleep(backoff)
		}
	}
}

// slowLoop keeps one slow body going: a POST announcing 10 MB that sends
// one byte every 3 s, opened again each time the server cuts it.
func (a *attackStats) slowLoop(base string, stop <-chan struct{}) {
	u, err := url.Parse(base)
	if err != nil {
		return
	}
	a.repeat("slow body", 0, stop, func() int { return slowOnce(u.Host, stop) })
}

// slowOnce runs one slow body until the server answers (its status), the
// connection fails (-1) or stop (0).
func slowOnce(host string, stop <-chan struct{}) int {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		time.Sleep(time.Second)
		return -1
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/recognize HTTP/1.1\r\nHost: %s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", host, 10<<20)
	answered := make(chan int, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for {
		if _, err := c.Write([]byte{0xff}); err != nil && !strings.Contains(err.Error(), "closed") {
			return <-answered
		}
		select {
		case code := <-answered:
			return code
		case <-stop:
			return 0
		case <-tick.C:
		}
	}
}
