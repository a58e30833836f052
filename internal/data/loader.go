package data

import (
	"errors"
	"fmt"
	"image"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"

	"starid/internal/tensor"
)

// DefaultCacheBytes is the loader's default cache budget: at 64x64 the 1,370
// tutorial photos take 17 MB, at 224x224 200 MB.
const DefaultCacheBytes = 2 << 30

// Batch is one step's input.
type Batch struct {
	X       *tensor.Tensor // N x 3 x Size x Size, normalized
	Labels  []int          // class of each row of X
	Indices []int          // index into Dataset.Samples of each row of X
}

// LoaderOptions tunes a Loader. The zero value is the default.
type LoaderOptions struct {
	Workers    int   // decoding goroutines; 0 = GOMAXPROCS
	CacheBytes int64 // budget for resized images kept in memory; 0 = DefaultCacheBytes, <0 = no cache
	Prefetch   int   // batches prepared ahead of the consumer; 0 = 2
	MaxPixels  int   // 0 = DefaultMaxPixels
	// Crop, when set, picks the region of each decoded photo to use (the
	// face box with a margin, later); it runs before the resize and its
	// result is what gets cached.
	Crop func(sample int, img *image.RGBA) (image.Rectangle, error)
	// Warp, when set, is used instead of Crop: it makes a new image from
	// each decoded photo (an aligned face chip: turned and scaled, which
	// no rectangle can express). Like Crop it runs before the resize, its
	// result is what gets cached, and augmentation applies after it.
	Warp func(sample int, img *image.RGBA) (*image.RGBA, error)
}

// SampleError is a sample the loader had to drop from its batch.
type SampleError struct {
	Index int    // into Dataset.Samples
	Path  string // the file
	Err   error
}

func (e *SampleError) Error() string { return fmt.Sprintf("skipping %v", e.Err) }
func (e *SampleError) Unwrap() error { return e.Err }

// Loader yields batches of transformed samples. Decoding and resizing run on
// worker goroutines up to Prefetch batches ahead of the consumer; resized
// (pre-augmentation) images are cached while the budget allows, so after the
// first epoch only the cheap augmentation and normalization run.
//
// Batches are deterministic for a given generator whatever the worker count:
// the order and batch composition are drawn up front, and each sample's
// augmentation uses its own generator seeded from one per-epoch draw and the
// sample index, never from which worker got there first.
type Loader struct {
	ds      *Dataset
	indices []int
	t       Transform
	batch   int
	opts    LoaderOptions

	mu     sync.Mutex
	cache  map[int]*RGB
	used   int64
	failed map[int]bool
}

// NewLoader returns a loader over ds.Samples[i] for i in indices, in batches
// of batch samples.
func NewLoader(ds *Dataset, indices []int, t Transform, batch int, opts LoaderOptions) *Loader {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = DefaultCacheBytes
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 2
	}
	return &Loader{ds: ds, indices: append([]int(nil), indices...), t: t, batch: max(batch, 1), opts: opts,
		cache: map[int]*RGB{}, failed: map[int]bool{}}
}

// Len is the number of samples an epoch yields (those that failed in an
// earlier epoch excluded).
func (l *Loader) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, i := range l.indices {
		if !l.failed[i] {
			n++
		}
	}
	return n
}

// CachedBytes is the memory the cache holds.
func (l *Loader) CachedBytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.used
}

// Epoch returns an iterator over this epoch's batches, shuffled with rng when
// shuffle is set and in index order otherwise; the last batch may be smaller.
// rng may be nil when neither shuffling nor augmenting.
//
// A sample that cannot be decoded (deleted, truncated, corrupt) is dropped
// from its batch: the iterator first yields (nil, *SampleError) for it, then
// the batch without it (a batch left empty is not yielded). In later epochs
// the sample is dropped again without a report or another attempt. Failed
// samples stay in the shuffle, so batch composition (and with it a resumed
// run) does not depend on when a failure was discovered. Training code logs
// the error and continues:
//
//	for b, err := range loader.Epoch(true, rng) {
//		if err != nil { log(err); continue }
//		step(b)
//	}
//
// Breaking out of the loop stops the workers before the iterator returns.
func (l *Loader) Epoch(shuffle bool, rng *rand.Rand) iter.Seq2[*Batch, error] {
	if rng == nil && (shuffle || l.t.Augment) {
		return func(yield func(*Batch, error) bool) {
			yield(nil, fmt.Errorf("loader: shuffling and augmentation need a random generator"))
		}
	}
	order := append([]int(nil), l.indices...)
	// All randomness is drawn now, when Epoch is called, so that the
	// generator's state afterwards does not depend on how far the
	// consumer iterates.
	if shuffle {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	}
	var epochSeed uint64
	if l.t.Augment {
		epochSeed = rng.Uint64()
	}
	return func(yield func(*Batch, error) bool) {
		l.run(order, epochSeed, yield)
	}
}

// pending is a batch being filled by the workers.
type pending struct {
	idx  []int
	x    []float32
	errs []error
	left sync.WaitGroup
}

type job struct {
	p    *pending
	slot int
}

func (l *Loader) run(order []int, epochSeed uint64, yield func(*Batch, error) bool) {
	s := l.t.Size
	per := 3 * s * s
	stop := make(chan struct{})
	jobs := make(chan job, l.batch)
	queue := make(chan *pending, l.opts.Prefetch)
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		for range queue { // unblock the dispatcher
		}
		wg.Wait()
	}()

	for range l.opts.Workers {
		wg.Go(func() {
			for j := range jobs {
				select {
				case <-stop:
				default:
					i := j.p.idx[j.slot]
					j.p.errs[j.slot] = l.sample(i, epochSeed, j.p.x[j.slot*per:(j.slot+1)*per])
				}
				j.p.left.Done()
			}
		})
	}
	wg.Go(func() {
		defer close(jobs)
		defer close(queue)
		for lo := 0; lo < len(order); lo += l.batch {
			idx := order[lo:min(lo+l.batch, len(order))]
			p := &pending{idx: idx, x: make([]float32, len(idx)*per), errs: make([]error, len(idx))}
			p.left.Add(len(idx))
			// The queue's capacity is the look-ahead bound: the
			// dispatcher blocks here until the consumer takes a batch.
			select {
			case queue <- p:
			case <-stop:
				return
			}
			for k := range idx {
				select {
				case jobs <- job{p, k}:
				case <-stop:
					// Slots not handed out will never be filled.
					for range idx[k:] {
						p.left.Done()
					}
					return
				}
			}
		}
	})

	for p := range queue {
		p.left.Wait()
		b := &Batch{Labels: make([]int, 0, len(p.idx)), Indices: make([]int, 0, len(p.idx))}
		n := 0
		for k, i := range p.idx {
			if err := p.errs[k]; err != nil {
				if err == errFailedBefore {
					continue
				}
				l.mu.Lock()
				l.failed[i] = true
				l.mu.Unlock()
				if !yield(nil, &SampleError{Index: i, Path: l.ds.Samples[i].Path, Err: err}) {
					return
				}
				continue
			}
			// Compact the surviving rows in place.
			if n != k {
				copy(p.x[n*per:(n+1)*per], p.x[k*per:(k+1)*per])
			}
			b.Labels = append(b.Labels, l.ds.Samples[i].Class)
			b.Indices = append(b.Indices, i)
			n++
		}
		if n == 0 {
			continue
		}
		b.X = tensor.FromData(p.x[:n*per], n, 3, s, s)
		if !yield(b, nil) {
			return
		}
	}
}

// errFailedBefore marks a sample that failed in an earlier epoch.
var errFailedBefore = errors.New("failed in an earlier epoch")

// sample fills dst with sample i, from the cache or the file.
func (l *Loader) sample(i int, epochSeed uint64, dst []float32) error {
	l.mu.Lock()
	r, failed := l.cache[i], l.failed[i]
	l.mu.Unlock()
	if failed {
		return errFailedBefore
	}
	if r == nil {
		var err error
		r, err = l.load(i)
		if err != nil {
			return err
		}
		l.mu.Lock()
		if sz := int64(r.Bytes()); l.opts.CacheBytes > 0 && l.used+sz <= l.opts.CacheBytes {
			l.cache[i] = r
			l.used += sz
		}
		l.mu.Unlock()
	}
	var rng *rand.Rand
	if l.t.Augment {
		rng = rand.New(rand.NewPCG(epochSeed, uint64(i)))
	}
	return l.t.Finish(r, rng, dst)
}

// load decodes, crops (or warps) and resizes sample i.
func (l *Loader) load(i int) (*RGB, error) {
	img, err := DecodeFile(l.ds.Samples[i].Path, l.opts.MaxPixels)
	if err != nil {
		return nil, err
	}
	if l.opts.Warp != nil {
		w, err := l.opts.Warp(i, img)
		if err != nil {
			return nil, fmt.Errorf("%s: warp: %w", l.ds.Samples[i].Path, err)
		}
		if w == nil || w.Rect.Empty() {
			return nil, fmt.Errorf("%s: warp gave an empty image", l.ds.Samples[i].Path)
		}
		return l.t.Resize(w)
	}
	if l.opts.Crop != nil {
		box, err := l.opts.Crop(i, img)
		if err != nil {
			return nil, fmt.Errorf("%s: crop: %w", l.ds.Samples[i].Path, err)
		}
		box = box.Intersect(img.Rect)
		if box.Empty() {
			return nil, fmt.Errorf("%s: crop box is outside the image", l.ds.Samples[i].Path)
		}
		img = img.SubImage(box).(*image.RGBA)
	}
	return l.t.Resize(img)
}
