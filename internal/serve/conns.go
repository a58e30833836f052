package serve

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connLimiter caps the open connections at max. Each one costs a file
// descriptor, and without a cap about 20,000 idle connections exhausted the
// process's limit. Blocking Accept at the cap (x/net/netutil's
// LimitListener) would bound the descriptors but hand the server to whoever
// holds the most idle connections: every new client would wait behind them.
// So at the cap the connection that has waited longest without a request in
// progress (never sent one, or idle between keep-alive requests) is closed
// to make room; only when every connection is busy does the newcomer wait.
type connLimiter struct {
	net.Listener
	max     int
	evicted atomic.Int64

	mu    sync.Mutex
	freed *sync.Cond
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	l := &connLimiter{Listener: ln, max: max, conns: map[net.Conn]connInfo{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// limitedConn tells its limiter when it closes, however it closes.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.forget(c) })
	return err
}

func (l *connLimiter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	lc := &limitedConn{Conn: c, l: l}
	l.mu.Lock()
	for len(l.conns) >= l.max {
		victim := l.longestWaiting()
		if victim == nil {
			l.freed.Wait() // every connection is busy: wait for one to end
			continue
		}
		delete(l.conns, victim)
		l.evicted.Add(1)
		l.mu.Unlock()
		victim.(*limitedConn).Conn.Close() // the server sees the error and lets it go
		l.mu.Lock()
	}
	l.conns[lc] = connInfo{http.StateNew, time.Now()}
	l.mu.Unlock()
	return lc, nil
}

// longestWaiting is the connection without a request in progress that has
// been so longest, or nil.
func (l *connLimiter) longestWaiting() net.Conn {
	var victim net.Conn
	var since time.Time
	for c, info := range l.conns {
		if info.state != http.StateNew && info.state != http.StateIdle {
			continue
		}
		if victim == nil || info.since.Before(since) {
			victim, since = c, info.since
		}
	}
	return victim
}

// track is the http.Server's ConnState hook.
func (l *connLimiter) track(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateClosed, http.StateHijacked:
		l.forget(c)
		return
	}
	l.mu.Lock()
	if _, ok := l.conns[c]; ok {
		l.conns[c] = connInfo{st, time.Now()}
	}
	l.mu.Unlock()
}

func (l *connLimiter) forget(c net.Conn) {
	l.mu.Lock()
	if _, ok := l.conns[c]; ok {
		delete(l.conns, c)
		l.freed.Signal()
	}
	l.mu.Unlock()
}
