package train

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"starid/internal/atomicfile"
	"starid/internal/data"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/runs"
	"starid/internal/tensor"
)

// Summary is how a Train call ended.
type Summary struct {
	Dir         string
	Epochs      int // completed epochs, including those before a resume
	BestEpoch   int // 1-based
	BestTestAcc float64
	History     []runs.EpochRecord
	Skipped     int // files the scan could not use
}

// maxListed is how many skipped files are printed on the terminal; the log
// gets all of them.
const maxListed = 20

// Train runs (or, with cfg.Resume, continues) a training run: it scans and
// splits cfg.Data, trains cfg.Model for cfg.Epochs epochs and keeps the run
// directory cfg.Out current after every epoch (see runs.ModelInfoFile for its
// files). Each epoch uses the learning rate
// schedule.LR(cfg.LR, epoch), evaluates on the test split in eval mode and
// writes best.safetensors when the epoch beats every earlier one
// (runs.EpochRecord.Improves), then last.safetensors, which is the point where the epoch counts
// as done.
//
// When ctx is cancelled Train stops at the next batch and returns an error
// wrapping ctx.Err(); the files still describe the last completed epoch,
// from which --resume continues. A resumed run ends with the same weights,
// bit for bit, as one that was never interrupted, because every random draw
// of an epoch derives from (seed, epoch) and the checkpoint restores the
// weights, BatchNorm statistics and optimizer state exactly. (The engine
// itself must repeat its arithmetic for that: with more than one worker,
// Conv2d's weight gradients currently vary in the last bits from run to
// run, so only GOMAXPROCS=1 runs are bit-identical today.) A photo that
// fails to decode during training is reported in the first epoch that
// meets it, and again once after a resume.
func Train(ctx context.Context, cfg Config, out Output) (*Summary, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(cfg.Data)
	if err != nil {
		return nil, err
	}
	cfg.Data = abs
	lg := newLogger(out.Output)

	var info *runs.ModelInfo
	var lock *runs.RunLock
	defer func() { lock.Unlock() }()
	if cfg.Resume {
		if _, serr := os.Stat(cfg.Out); serr == nil {
			if lock, err = runs.LockRun(cfg.Out, "starid train --resume", 0, nil); err != nil {
				return nil, err
			}
			// Under the lock no one else writes here: any temporary
			// file is a kill -9's leftover.
			atomicfile.CleanStale(cfg.Out, 0)
		}
		if info, err = runs.ReadModelInfo(cfg.Out); err != nil {
			if runs.CheckNewRun(cfg.Out, "") == nil {
				return nil, fmt.Errorf("nothing to resume: %w; no epoch was completed, so run the same command without --resume to start afresh", err)
			}
			return nil, fmt.Errorf("nothing to resume: %w", err)
		}
		if cfg, err = mergeForResume(Config{Settings: info.Config}, cfg); err != nil {
			return nil, err
		}
		// The merged settings come from model.json, which the flags'
		// check never saw.
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("%s: the run's stored settings: %w", filepath.Join(cfg.Out, runs.ModelInfoFile), err)
		}
	} else if err := runs.CheckNewRun(cfg.Out, resumeHint); err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, lg: lg, hooks: out.hooks, info: info}
	if t.hooks == nil {
		t.hooks = &hooks{}
	}
	// Scan before creating anything, so that a wrong folder leaves no
	// half-made run behind; the logger keeps its lines for train.log.
	if t.ds, err = data.Scan(cfg.Data, data.ScanOptions{Workers: cfg.Workers}); err != nil {
		return nil, err
	}
	if err := runs.CheckClassNames(t.ds.Classes); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", cfg.Data, err)
	}
	// One class would "train" to 100% accuracy and name everyone the same.
	if len(t.ds.Classes) < 2 {
		return nil, fmt.Errorf("data folder %s has only one class (%s); training needs at least two sub-folders of photos",
			cfg.Data, strings.Join(t.ds.Classes, ""))
	}
	if !cfg.Resume {
		note := func(msg string) { lg.notef("%s", msg) }
		if lock, err = runs.StartNewRun(cfg.Out, "starid train", resumeHint, note); err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(cfg.Out, runs.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	lg.logf("starid train %s (starid %s)", describe(cfg), runs.StaridVersion())
	lg.setFile(logFile)
	t.reportSkipped()

	if err := t.setUp(ctx); err != nil {
		lg.logf("error: %v", err)
		if !cfg.Resume {
			logFile.Close()
			runs.DiscardNewRun(cfg.Out, lock)
		}
		return nil, err
	}
	err = t.run(ctx)
	if err != nil {
		lg.logf("stopped: %v", err)
	}
	return t.summary(), err
}

// resumeHint is what to do about an --out that holds a run.
const resumeHint = "use --resume to continue it or choose another --out"

// describe is the run's settings in command-line form, for the log.
func describe(c Config) string {
	var b strings.Builder
	b.WriteString(c.Data + " --out " + c.Out + fmt.Sprintf(" --epochs %d", c.Epochs))
	for _, s := range c.settings() {
		if s.flag != "data" {
			b.WriteString(" --" + s.flag + " " + s.value)
		}
	}
	if c.Resume {
		b.WriteString(" --resume")
	}
	return b.String()
}

// trainer holds one run's state between setUp and run.
type trainer struct {
	cfg   Config
	lg    *logger
	hooks *hooks
	info  *runs.ModelInfo // nil until setUp for a new run

	ds            *data.Dataset
	trainIdx      []int
	testIdx       []int
	net           *nn.Sequential
	drops         *dropoutSeeder
	opt           optim.Optimizer
	sched         optim.Schedule
	step          *Stepper
	trainL, testL *data.Loader
	done          int // completed epochs
	best          int // best epoch, 1-based
	bestAcc       float64
	history       []runs.EpochRecord
	trainB, testB int // batches per epoch
}

func (t *trainer) path(name string) string { return filepath.Join(t.cfg.Out, name) }

// setUp scans and splits the data, builds the model and optimizer and, on
// resume, restores the last completed epoch.
func (t *trainer) setUp(ctx context.Context) error {
	cfg, ds, lg := &t.cfg, t.ds, t.lg
	if err := t.loadSplit(); err != nil {
		return err
	}
	lg.notef("%d classes, %d images: %d for training, %d for testing", len(ds.Classes), len(ds.Samples),
		len(t.trainIdx), len(t.testIdx))

	spec, err := lookupSpec(cfg.Model, len(ds.Classes), cfg.Width)
	if err != nil {
		return err
	}
	if t.info != nil && !sameSpec(t.info.Spec, &spec) {
		return fmt.Errorf("cannot resume: the network %s in %s differs from this starid's %s",
			cfg.Model, t.path(runs.ModelInfoFile), cfg.Model)
	}
	if t.net, err = models.Build(spec, streamRNG(cfg.Seed, streamInit)); err != nil {
		return err
	}
	// A too-small --size would otherwise fail only in the first batch,
	// after the run folder was made; the shape walk costs no arithmetic.
	if _, err := nn.Summarize(t.net, []int{1, spec.InChannels, cfg.Size, cfg.Size}); err != nil {
		return fmt.Errorf("--size %d is too small for %s: %w", cfg.Size, cfg.Model, err)
	}
	t.drops = takeOverDropout(t.net)
	t.sched, _ = optim.ParseSchedule(cfg.Schedule) // validated in Config.validate
	params := t.net.Params()
	switch cfg.Optimizer {
	case "adam":
		t.opt = optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	case "adamw":
		t.opt = optim.NewAdamW(params, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	case "sgd":
		t.opt = optim.NewSGD(params, optim.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay})
	}
	t.step = &Stepper{Model: t.net, Opt: t.opt, L1: cfg.L1, L2: cfg.L2}

	// Faces are found before anything is written, so that missing face
	// models fail the run without touching model.json.
	var lo data.LoaderOptions
	chipSide := facecrop.ChipSide(cfg.Size)
	if t.info != nil && t.info.ChipSize > 0 {
		chipSide = t.info.ChipSize // a resumed run cuts the chips it started with
	}
	if cfg.Crop.FindsFaces() {
		if lo, err = t.faceCrops(ctx, chipSide); err != nil {
			return err
		}
	}
	if t.info == nil {
		t.info = &runs.ModelInfo{
			Version: runs.ModelInfoVersion, Model: cfg.Model, Spec: &spec, Classes: ds.Classes, Size: cfg.Size,
			Mean: data.DefaultMean, Std: data.DefaultStd, Crop: cfg.Crop, CropMargin: cfg.CropMargin, Data: cfg.Data, Seed: cfg.Seed,
			TrainFrac: cfg.TrainFrac, Config: cfg.Settings, Created: time.Now().UTC().Format(time.RFC3339),
			StaridVersion: runs.StaridVersion(),
		}
		if cfg.Crop.FindsFaces() {
			t.info.PipelineVersion = cfg.FacePipeline
		}
		if cfg.Crop == facecrop.Aligned {
			t.info.ChipSize = chipSide
		}
	} else {
		t.info.Config = cfg.Settings // the epoch count may have grown
	}
	if cfg.Resume {
		st, err := readCheckpoint(t.path(runs.LastFile), t.net, t.opt, cfg)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			lg.notef("no completed epoch in %s yet: starting at epoch 1", cfg.Out)
		case err != nil:
			return err
		default:
			t.done, t.best, t.bestAcc, t.history = st.Epoch, st.BestEpoch, st.BestTestAcc, st.History
			lg.notef("resuming %s after epoch %d (best so far: epoch %d, test accuracy %.1f%%)",
				cfg.Out, t.done, t.best, 100*t.bestAcc)
			// history.csv may lag the checkpoint after a kill.
			if err := t.writeHistoryFiles(); err != nil {
				return err
			}
		}
	}
	// Only now: a resume refused above must leave model.json as it was
	// (not claiming a new epoch total for a run that did not continue).
	if err := runs.WriteModelInfo(cfg.Out, t.info); err != nil {
		return err
	}

	tr := data.Transform{Size: cfg.Size, Mean: t.info.Mean, Std: t.info.Std, Augment: cfg.Augment}
	te := data.Transform{Size: cfg.Size, Mean: t.info.Mean, Std: t.info.Std}
	lo.Workers = cfg.Workers
	t.trainL = data.NewLoader(ds, t.trainIdx, tr, cfg.Batch, lo)
	t.testL = data.NewLoader(ds, t.testIdx, te, cfg.Batch, lo)
	t.trainB = (len(t.trainIdx) + cfg.Batch - 1) / cfg.Batch
	t.testB = (len(t.testIdx) + cfg.Batch - 1) / cfg.Batch
	return nil
}

// loadSplit makes (or, on resume, reads and checks) the run's split and
// sets the training and test indices.
func (t *trainer) loadSplit() error {
	cfg, ds := &t.cfg, t.ds
	var split *data.Split
	var err error
	if cfg.Resume {
		if split, err = data.ReadSplit(t.path(runs.SplitFile)); err != nil {
			return fmt.Errorf("cannot resume: %w", err)
		}
		if !slices.Equal(split.Classes, ds.Classes) {
			return fmt.Errorf("cannot resume: %s has classes %v, %s now has %v",
				t.path(runs.SplitFile), split.Classes, cfg.Data, ds.Classes)
		}
		// The checkpoint's outputs are in split.json's class order; a
		// model.json that says otherwise was edited, and would name every
		// answer wrongly or fail in predict.
		if !slices.Equal(t.info.Classes, split.Classes) {
			return fmt.Errorf("cannot resume: %s lists the classes %v, but the run was started with %v (%s): "+
				"model.json was changed by hand; put its class list back", t.path(runs.ModelInfoFile), t.info.Classes, split.Classes, t.path(runs.SplitFile))
		}
	} else {
		if split, err = data.StratifiedSplit(ds, cfg.TrainFrac, cfg.Seed); err != nil {
			return err
		}
		if err := split.WriteFile(t.path(runs.SplitFile)); err != nil {
			return err
		}
	}
	if t.trainIdx, t.testIdx, err = split.Indices(ds); err != nil {
		return fmt.Errorf("%s no longer matches %s: %w", t.path(runs.SplitFile), cfg.Data, err)
	}
	if len(t.trainIdx) == 0 || len(t.testIdx) == 0 {
		return fmt.Errorf("%s: the split left %d training and %d test images; need some of each",
			cfg.Data, len(t.trainIdx), len(t.testIdx))
	}
	return nil
}

// faceCrops finds the face of every training and test photo with
// cfg.FaceBoxes and returns the loader's crop (crop=face) or warp
// (crop=aligned: chipSide-pixel chips) for them. Photos without a face are
// counted and listed: they are used whole, which is all a model can be
// shown of them, and what eval and predict do with such photos too.
func (t *trainer) faceCrops(ctx context.Context, chipSide int) (data.LoaderOptions, error) {
	cfg, ds := &t.cfg, t.ds
	aligned := cfg.Crop == facecrop.Aligned
	flag := "--crop " + cfg.Crop
	var lo data.LoaderOptions
	if cfg.FaceBoxes == nil {
		return lo, fmt.Errorf("%s: no face finder was given (train.Config.FaceBoxes)", flag)
	}
	if aligned && cfg.AlignChip == nil {
		return lo, fmt.Errorf("%s: no chip maker was given (train.Config.AlignChip)", flag)
	}
	idx := slices.Concat(t.trainIdx, t.testIdx)
	paths, keys := make([]string, len(idx)), make([]string, len(idx))
	for r, i := range idx {
		paths[r], keys[r] = ds.Samples[i].Path, ds.Samples[i].SHA256
	}
	finds, err := cfg.FaceBoxes(ctx, paths, keys, aligned)
	if err != nil {
		return lo, fmt.Errorf("%s: %w", flag, err)
	}
	if len(finds) != len(idx) {
		return lo, fmt.Errorf("%s: the face finder answered %d of %d photos", flag, len(finds), len(idx))
	}
	found := make(map[int]FaceFind, len(idx))
	var missing []string
	noFace := [2]int{} // training, test
	failed := 0
	for r, i := range idx {
		f := finds[r]
		found[i] = f
		switch {
		case f.Err != nil:
			failed++
			missing = append(missing, fmt.Sprintf("%s: cannot look for faces (the photo is skipped): %v", paths[r], f.Err))
		case !f.Found:
			noFace[min(r/len(t.trainIdx), 1)]++
			missing = append(missing, paths[r]+": no face found, the whole photo is used")
		case aligned && len(f.Landmarks) == 0:
			// The finder broke its promise; the chip maker would fail on
			// every epoch, so say it once here.
			f.Err = errors.New("the face finder gave no landmarks")
			found[i] = f
			failed++
			missing = append(missing, fmt.Sprintf("%s: cannot align the face (the photo is skipped): %v", paths[r], f.Err))
		}
	}
	what := fmt.Sprintf("face crops (margin %g)", cfg.CropMargin)
	if aligned {
		what = fmt.Sprintf("aligned faces (padding %g, %dx%d chips)", cfg.CropMargin, chipSide, chipSide)
	}
	t.lg.notef("%s: a face in %d of %d photos; %d without one (%d training, %d test) use the whole photo",
		what, len(idx)-noFace[0]-noFace[1]-failed, len(idx), noFace[0]+noFace[1], noFace[0], noFace[1])
	for k, m := range missing {
		if k < maxListed {
			t.lg.notef("  %s", m)
		} else {
			t.lg.logf("  %s", m)
		}
	}
	if len(missing) > maxListed {
		t.lg.notef("  ... and %d more (all listed in %s)", len(missing)-maxListed, t.path(runs.LogFile))
	}
	if aligned {
		align, margin := cfg.AlignChip, cfg.CropMargin
		lo.Warp = FaceWarper(found, func(img *image.RGBA, lm []faces.Point) (*image.RGBA, error) {
			return align(img, lm, margin, chipSide)
		})
	} else {
		lo.Crop = FaceCropper(found, cfg.CropMargin)
	}
	return lo, nil
}

// sameSpec compares two specs by their JSON form.
func sameSpec(a, b *models.Spec) bool {
	if a == nil || b == nil {
		return a == b
	}
	ja, err1 := a.MarshalIndent()
	jb, err2 := b.MarshalIndent()
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// reportSkipped lists the files the scan could not use, with reasons.
func (t *trainer) reportSkipped() {
	for i, line := range t.ds.CrossClassNote() {
		if i <= maxListed {
			t.lg.notef("%s", line)
		} else {
			t.lg.logf("%s", line)
		}
	}
	sk := t.ds.Skipped
	if len(sk) == 0 {
		return
	}
	t.lg.notef("skipping %d unusable file(s) in %s:", len(sk), t.cfg.Data)
	for i, s := range sk {
		if i < maxListed {
			t.lg.notef("  %s: %s", data.ShowPath(s.Path), s.Reason)
		} else {
			t.lg.logf("  %s: %s", data.ShowPath(s.Path), s.Reason)
		}
	}
	if len(sk) > maxListed {
		t.lg.notef("  ... and %d more (all listed in %s)", len(sk)-maxListed, t.path(runs.LogFile))
	}
}

func (t *trainer) summary() *Summary {
	s := &Summary{Dir: t.cfg.Out, Epochs: t.done, BestEpoch: t.best, BestTestAcc: t.bestAcc, History: t.history}
	if t.ds != nil {
		s.Skipped = len(t.ds.Skipped)
	}
	return s
}

// errInterrupted wraps a cancellation with what is left on disk.
func (t *trainer) interrupted(ctx context.Context, epoch int) error {
	where := "no epoch was completed; --resume starts it again at epoch 1"
	if t.done > 0 {
		where = fmt.Sprintf("%s holds epoch %d; continue with --resume", t.path(runs.LastFile), t.done)
	}
	return runs.Interrupted(ctx.Err(), "interrupted during epoch %d: %s", epoch, where)
}

// diverged adds to a divergence what is left on disk.
func (t *trainer) diverged(err error) error {
	if t.done == 0 {
		return fmt.Errorf("%w; nothing was saved, and the same --out can be used again", err)
	}
	return fmt.Errorf("%w; %s still holds epoch %d, but --resume keeps the run's --lr, so start a new run (another --out)",
		err, t.path(runs.LastFile), t.done)
}

func (t *trainer) run(ctx context.Context) error {
	cfg := &t.cfg
	if t.done >= cfg.Epochs {
		t.lg.notef("%s has already completed %d of %d epochs; give a larger --epochs to train further",
			cfg.Out, t.done, cfg.Epochs)
		return nil
	}
	for e := t.done; e < cfg.Epochs; e++ {
		if ctx.Err() != nil {
			return t.interrupted(ctx, e+1)
		}
		rec, err := t.epoch(ctx, e)
		if err != nil {
			return err
		}
		if t.hooks.evaluated != nil {
			t.hooks.evaluated(&rec)
		}
		rec.Best = rec.Improves(runs.BestRecord(t.history))
		if err := t.commit(rec); err != nil {
			return err
		}
		t.lg.result(rec.Line(cfg.Epochs))
		if rec.Skipped > 0 {
			t.lg.notef("epoch %d: %d image(s) could not be read and were left out (see %s)", rec.Epoch, rec.Skipped, t.path(runs.LogFile))
		}
		if h := t.hooks; h.committed != nil {
			if err := h.committed(rec); err != nil {
				return err
			}
		}
	}
	t.lg.notef("%s: %s", runs.BestNote(t.history), t.path(runs.BestFile))
	return nil
}

// epoch trains and evaluates epoch e (0-based).
func (t *trainer) epoch(ctx context.Context, e int) (runs.EpochRecord, error) {
	cfg := &t.cfg
	rec := runs.EpochRecord{Epoch: e + 1}
	start := time.Now()
	t.opt.SetLR(t.sched.LR(cfg.LR, e))
	t.drops.Reseed(cfg.Seed, e)
	progress := func(done int) {
		if p := t.lg.out.Progress; p != nil {
			p(done, t.trainB+t.testB)
		}
	}

	t.net.SetTraining(true)
	var lossSum float64
	var correct, seen, batches int
	err := t.eachBatch(ctx, e, "", &rec, t.trainL.Epoch(true, streamRNG(cfg.Seed, streamData, uint64(e))), func(b *data.Batch) error {
		if t.hooks.batch != nil {
			t.hooks.batch(e, batches)
		}
		r, err := t.step.Step(b.X, b.Labels)
		if err != nil {
			return fmt.Errorf("epoch %d, batch %d: %w", e+1, batches+1, err)
		}
		// Stop at the first bad batch: every later one would be NaN too.
		if err := runs.Diverged(e+1, "training", r.Loss, cfg.LR); err != nil {
			return t.diverged(err)
		}
		lossSum += r.Loss
		correct += r.Correct
		seen += len(b.Labels)
		batches++
		progress(batches)
		return nil
	})
	if err != nil {
		return rec, err
	}
	if seen == 0 {
		return rec, fmt.Errorf("epoch %d: no training image could be read", e+1)
	}
	rec.TrainAcc, rec.TrainLoss = float64(correct)/float64(seen), lossSum/float64(batches)

	t.net.SetTraining(false)
	lossSum, correct, seen = 0, 0, 0
	testBatches := 0
	err = t.eachBatch(ctx, e, " (test)", &rec, t.testL.Epoch(false, nil), func(b *data.Batch) error {
		logits, err := t.net.Forward(b.X)
		if err != nil {
			return fmt.Errorf("epoch %d, test batch %d: %w", e+1, testBatches+1, err)
		}
		loss, _, err := nn.CrossEntropy(logits, b.Labels)
		if err != nil {
			return err
		}
		lossSum += loss
		correct += CountCorrect(logits, b.Labels)
		seen += len(b.Labels)
		testBatches++
		progress(batches + testBatches)
		return nil
	})
	if err != nil {
		return rec, err
	}
	// Whole even when unreadable photos cut batches short, so a bar ends
	// (and is erased) before the epoch's line.
	progress(t.trainB + t.testB)
	if seen == 0 {
		return rec, fmt.Errorf("epoch %d: no test image could be read", e+1)
	}
	// Like the tutorial: the mean of the per-batch mean losses.
	rec.TestAcc, rec.TestLoss = float64(correct)/float64(seen), lossSum/float64(testBatches)
	if err := runs.Diverged(e+1, "test", rec.TestLoss, cfg.LR); err != nil {
		return rec, t.diverged(err)
	}
	rec.LR = t.sched.LR(cfg.LR, e+1)
	rec.DurationMS = time.Since(start).Milliseconds()
	return rec, nil
}

// eachBatch runs fn on every batch of one pass that could be read; a
// batch that could not is counted in rec and logged (what names the pass
// in the line), and the pass goes on. It stops at fn's first error and,
// between batches and after the last, at an interrupt.
func (t *trainer) eachBatch(ctx context.Context, e int, what string, rec *runs.EpochRecord,
	pass iter.Seq2[*data.Batch, error], fn func(*data.Batch) error) error {
	for b, err := range pass {
		if ctx.Err() != nil {
			return t.interrupted(ctx, e+1)
		}
		if err != nil {
			rec.Skipped++
			t.lg.logf("epoch %d%s: %v", e+1, what, err)
			continue
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return t.interrupted(ctx, e+1)
	}
	return nil
}

// commit writes an epoch's files. best.safetensors goes first and
// last.safetensors second: the epoch counts as done only once last is
// renamed into place, so a kill in between repeats the epoch, which
// rewrites the same best weights.
func (t *trainer) commit(rec runs.EpochRecord) error {
	hist := append(slices.Clone(t.history), rec)
	best, bestAcc := t.best, t.bestAcc
	if rec.Best {
		best, bestAcc = rec.Epoch, rec.TestAcc
		st := progressState{Epoch: rec.Epoch, BestEpoch: best, BestTestAcc: bestAcc, History: hist}
		if err := writeCheckpoint(t.path(runs.BestFile), t.net, nil, &t.cfg, st); err != nil {
			return err
		}
	}
	st := progressState{Epoch: rec.Epoch, BestEpoch: best, BestTestAcc: bestAcc, History: hist}
	if err := writeCheckpoint(t.path(runs.LastFile), t.net, t.opt, &t.cfg, st); err != nil {
		return err
	}
	t.done, t.best, t.bestAcc, t.history = rec.Epoch, best, bestAcc, hist
	if rec.Best {
		t.info.BestEpoch, t.info.BestTestAcc = best, bestAcc
		if err := runs.WriteModelInfo(t.cfg.Out, t.info); err != nil {
			return err
		}
	}
	return t.writeHistoryFiles()
}

// writeHistoryFiles rewrites history.csv and curves.png from t.history. A
// failed plot is a warning: the numbers are in history.csv.
func (t *trainer) writeHistoryFiles() error {
	plotErr, err := runs.WriteHistoryFiles(t.cfg.Out, t.modelName(), runs.KeepBest, t.history)
	if plotErr != nil {
		t.lg.notef("warning: %s not drawn: %v", t.path(runs.CurvesFile), plotErr)
	}
	return err
}

// modelName is the model as the pictures name it: with its width when
// scaled and its crop when it sees faces.
func (t *trainer) modelName() string {
	s := t.cfg.Model
	if t.cfg.Width != 0 && t.cfg.Width != 1 {
		s += fmt.Sprintf(", width %g", t.cfg.Width)
	}
	if t.cfg.Crop != "" && t.cfg.Crop != facecrop.None {
		s += ", crop " + string(t.cfg.Crop)
	}
	return s
}

// compile-time check that the loader's batches are what Stepper takes.
var _ = func(b *data.Batch) *tensor.Tensor { return b.X }
