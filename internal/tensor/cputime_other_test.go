//go:build !unix

package tensor

import "time"

// processCPU is unknown here; benchmarks then report an infinite rate.
func processCPU() time.Duration { return 0 }
