package faces

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starid/internal/tensor"
)

// TestNetPoolLimitsAndReuses holds the pool to its promises: never more
// copies than workers, a copy is lent to one caller at a time, and a
// caller that finds every copy busy waits for one instead of building more.
func TestNetPoolLimitsAndReuses(t *testing.T) {
	type net struct{ busy atomic.Bool }
	var built atomic.Int32
	p := newNetPool(func() *net { built.Add(1); return new(net) })
	limit := max(1, tensor.Workers())

	// Borrow every copy: each is built, and each is distinct.
	held := make([]*net, limit)
	for i := range held {
		held[i] = p.acquire()
		for _, h := range held[:i] {
			if h == held[i] {
				t.Fatal("one copy lent twice")
			}
		}
	}
	if int(built.Load()) != limit {
		t.Fatalf("built %d copies, want %d", built.Load(), limit)
	}

	// One more caller must wait until a copy comes back, and get that one.
	got := make(chan *net)
	go func() { got <- p.acquire() }()
	select {
	case <-got:
		t.Fatal("acquire past the limit did not wait")
	case <-time.After(20 * time.Millisecond):
	}
	p.release(held[0])
	if n := <-got; n != held[0] {
		t.Fatal("the waiting caller did not get the released copy")
	}
	p.release(held[0])
	for _, h := range held[1:] {
		p.release(h)
	}

	// Many callers at once: no copy in two hands, none built past the limit.
	var wg sync.WaitGroup
	for range 8 * limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := p.acquire()
			if n.busy.Swap(true) {
				t.Error("a copy was lent to two callers at once")
			}
			time.Sleep(time.Millisecond)
			n.busy.Store(false)
			p.release(n)
		}()
	}
	wg.Wait()
	if int(built.Load()) != limit {
		t.Fatalf("built %d copies under load, want %d", built.Load(), limit)
	}
}
