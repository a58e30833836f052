package faces

import "starid/internal/tensor"

// netPool lends private copies of a face net. Each copy owns its layers'
// activation buffers, so a call needs one to itself, while every copy
// shares the read-only weights. Copies are built on first need, at most
// GOMAXPROCS of them: one call already keeps every core busy, so more
// copies would only hold more memory (tens of MB each for the detector).
// A call that finds every copy busy waits for one to come back.
type netPool[T any] struct {
	idle  chan T        // copies not lent out
	made  chan struct{} // a token per copy built; full at the limit
	build func() T
}

func newNetPool[T any](build func() T) netPool[T] {
	n := max(1, tensor.Workers())
	return netPool[T]{idle: make(chan T, n), made: make(chan struct{}, n), build: build}
}

// acquire borrows an idle copy, building one if fewer than the limit
// exist, else waiting for one to come back. Give it back with release.
func (p *netPool[T]) acquire() T {
	select {
	case n := <-p.idle:
		return n
	default:
	}
	select {
	case p.made <- struct{}{}:
		return p.build()
	case n := <-p.idle:
		return n
	}
}

func (p *netPool[T]) release(n T) { p.idle <- n }
