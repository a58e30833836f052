package serve

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

// ListenAndServeUntilSignal is `starid serve`'s life: set the runtime's
// soft memory limit from the options (unless GOMEMLIMIT sets one), listen
// on Options.Addr, say where on w, serve until the first Ctrl-C or SIGTERM
// (then drain the requests in flight) or the second (then stop at once).
// listening, if not nil, is told the bound address.
func (s *Server) ListenAndServeUntilSignal(listening func(net.Addr), w io.Writer) error {
	s.setMemoryLimit()
	// Signals first, so a SIGTERM that arrives as soon as the port is open
	// already means "drain and stop".
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	finished := make(chan struct{})
	defer close(finished)
	go s.onSignals(sigs, finished, stop, w)
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		s.log.Warn("listening beyond this machine: anyone who can reach the address can use the model", "addr", ln.Addr().String())
	}
	fmt.Fprintf(w, "starid serve: open http://%s/ (Ctrl-C to stop)\n", ln.Addr())
	if listening != nil {
		listening(ln.Addr())
	}
	start := time.Now()
	if err := s.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintf(w, "starid serve: stopped after %v\n", time.Since(start).Round(time.Second))
	return nil
}

// onSignals turns the first signal into a graceful stop (cancelling the
// serving context) and a second into an immediate one; it returns once
// serving has finished.
func (s *Server) onSignals(sigs <-chan os.Signal, finished <-chan struct{}, stop context.CancelFunc, w io.Writer) {
	select {
	case <-sigs:
	case <-finished:
		return
	}
	fmt.Fprintln(w, "starid serve: finishing the requests in flight (Ctrl-C again to stop now)")
	stop()
	select {
	case <-sigs:
		s.Close()
	case <-finished:
	}
}

// setMemoryLimit gives the Go runtime a soft memory limit from what the
// options let the server hold (MemoryBudget), unless GOMEMLIMIT already
// sets one: near it the collector runs sooner, so garbage from finished
// images is not left to pile up beside the next ones.
func (s *Server) setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := MemoryBudget(s.opts)
	debug.SetMemoryLimit(limit)
	s.log.Info("memory budget", "soft_limit_mb", limit>>20)
}
