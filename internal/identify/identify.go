// Package identify names people from face descriptors: it turns the 128-D
// descriptors of package faces into a face run (a linear softmax head plus
// per-class centroids, trained on one descriptor per photo), answers
// "unknown" for faces that resemble no enrolled person closely enough, and
// enrolls new people without touching the frozen descriptor network.
//
// Descriptors come from a Describer (the real *faces.Pipeline, or a fake in
// tests) through a disk cache keyed by the photo's bytes and the pipeline
// version, so training twice on the same photos describes them once.
package identify

import (
	"errors"
	"sync"

	"starid/internal/faces"
)

// DescriptorLen is the length of a face descriptor.
const DescriptorLen = 128

// Describer finds and describes every face in a photo, largest first (a
// photo without faces gives an empty slice). It must be safe for concurrent
// use: descriptors are computed by a pool of workers. *faces.Pipeline
// satisfies it.
type Describer interface {
	Faces(img *faces.Image) ([]faces.Face, error)
}

// LoadError is what a Lazy describer returns for every photo when its
// nets could not be loaded: a failure of the tool, not of one photo.
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Lazy is a Describer that calls load on first use, so that commands whose
// photos are all in the cache never load the nets (nor need them on disk).
// A failed load is remembered and returned by every call.
func Lazy(load func() (Describer, error)) Describer { return &lazy{load: load} }

type lazy struct {
	once sync.Once
	load func() (Describer, error)
	d    Describer
	err  error
}

func (l *lazy) Faces(img *faces.Image) ([]faces.Face, error) {
	d, err := l.get()
	if err != nil {
		return nil, err
	}
	return d.Faces(img)
}

// get loads the describer on first use.
func (l *lazy) get() (Describer, error) {
	l.once.Do(func() {
		l.d, l.err = l.load()
		if l.err == nil && l.d == nil {
			l.err = errors.New("identify: no face describer")
		}
		if l.err != nil {
			l.err = &LoadError{l.err}
		}
	})
	return l.d, l.err
}
