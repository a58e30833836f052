package serve

import (
	"fmt"
	"log/slog"
	"time"

	"starid/internal/recognize"
)

// OpenRun serves the run folder dir, following it (recognize.OpenReloading):
// a person enrolled into the run, renamed or removed while the server runs
// is named from the next upload on, without a restart. Each reopening is
// logged; one that fails keeps the model in use and logs why.
func OpenRun(dir string, opt recognize.Options, logger *slog.Logger) (Recognizer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	r, err := recognize.OpenReloading(dir, opt, ReloadLogger(logger, dir))
	if err != nil {
		return nil, err
	}
	return FromRecognizer(r), nil
}

// ReloadLogger logs each reopening of the model of run (for
// recognize.OpenReloading and OpenDefaultReloading).
func ReloadLogger(logger *slog.Logger, run string) func(error) {
	return func(err error) {
		if err != nil {
			logger.Warn("run changed but could not be reopened; serving the model loaded before", "run", run, "error", err)
			return
		}
		logger.Info("run changed on disk; serving its new model", "run", run)
	}
}

// CheckFlags refuses Options outside their ranges as `starid serve`'s
// flags set them (before New fills in defaults: a QueueLength of 0 is no
// queue here), naming the flag and the range. The comparisons are written
// so that a NaN or zero duration fails them too.
func (o *Options) CheckFlags() error {
	switch {
	case o.MaxConcurrent < 1 || o.MaxConcurrent > MaxMaxConcurrent:
		return fmt.Errorf("--max-concurrent must be between 1 and %d, not %d", MaxMaxConcurrent, o.MaxConcurrent)
	case o.QueueLength < 0 || o.QueueLength > MaxQueueLength:
		return fmt.Errorf("--queue must be between 0 and %d, not %d", MaxQueueLength, o.QueueLength)
	case o.RequestTimeout <= 0 || o.RequestTimeout > time.Hour:
		return fmt.Errorf("--timeout must be more than 0 and at most 1h, not %v", o.RequestTimeout)
	case o.BodyTimeout <= 0 || o.BodyTimeout > time.Hour:
		return fmt.Errorf("--body-timeout must be more than 0 and at most 1h, not %v", o.BodyTimeout)
	case o.MaxConns < 1 || o.MaxConns > MaxMaxConns:
		return fmt.Errorf("--max-conns must be between 1 and %d, not %d", MaxMaxConns, o.MaxConns)
	}
	for _, h := range o.AllowHosts {
		if h == "" {
			return fmt.Errorf("--allow-host: empty value")
		}
	}
	for _, origin := range o.CORSOrigins {
		if err := CheckOrigin(origin); err != nil {
			return fmt.Errorf("--cors: %v", err)
		}
	}
	return nil
}
