package runs

import "io"

// Output says where a trainer reports to: the per-epoch lines on Stdout,
// notes and warnings on Stderr. Both trainers also append what they print
// to the run's train.log, time-stamped.
type Output struct {
	Stdout io.Writer // the per-epoch lines; nil discards
	Stderr io.Writer // notes and warnings; nil discards
	// Progress, when not nil, is told how far the long steps have got: a
	// face run's photos described, and a VGG run's batches, counting each
	// epoch's training and test batches and starting again at 1 every
	// epoch (a VGG run that crops faces finds them through its
	// train.Config.FaceBoxes, which reports on its own). progress.Bar.Func
	// draws it on a terminal and nothing otherwise, so logs get only the
	// lines above.
	Progress func(done, total int)
}
