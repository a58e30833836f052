package identify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/runs"
)

// Face-run defaults: the head is tiny (128 x K), so many epochs cost
// little, and its inputs are standardized, so a larger rate than VGG's
// 1e-4 converges.
const (
	DefaultEpochs   = 60
	DefaultLR       = 1e-3
	DefaultSchedule = "none"
	// DefaultTargetFRR is the share of known faces the calibrated rule may
	// reject: 0.7% is about 1% on held-out photos (see Calibrate).
	DefaultTargetFRR = 0.007
	// AugmentedTargetFRR is the target of an augmented run (--augment):
	// its centroids include the copies, so the photos as taken sit a little
	// farther from them and the same limit rejects more. 0.5% rejected
	// 0.40% of held-out known faces in the strangers sweep and 0.88% in
	// 5-fold CV (docs/EXPERIMENTS.md, "Accuracy, session 7").
	AugmentedTargetFRR = 0.005
)

// TrainConfig is `starid train --model face`. Settings' Data, Out, Epochs,
// Batch, Optimizer, LR, Momentum, Schedule, WeightDecay, TrainFrac, Seed
// and Workers are used; the image-model settings (size, augment, crop,
// L1/L2) do not apply and must be left at their zero or default values.
type TrainConfig struct {
	runs.Settings
	Exclude   []string // class folders left out, to serve as strangers
	Cache     *Cache
	TargetFRR float64 // 0: DefaultTargetFRR, or AugmentedTargetFRR with Augment
	// PipelineVersion is recorded in model.json (faces.PipelineVersion
	// unless a test says otherwise).
	PipelineVersion string
}

// Check validates the settings before anything touches the disk: what a
// face run refuses, then what every trainer checks
// (runs.Settings.CheckTraining).
func (c *TrainConfig) Check() error {
	if err := c.CheckPaths(); err != nil {
		return err
	}
	switch {
	case c.Resume:
		return errors.New("--resume: a face run trains in seconds once its descriptors are cached; run the same command without --resume " +
			"(a folder left by an interrupted face run is taken over)")
	case c.L1 != 0 || c.L2 != 0:
		return errors.New("--l1/--l2 do not apply to --model face; use --weight-decay")
	case c.Crop != "" && c.Crop != facecrop.None:
		return errors.New("--crop does not apply to --model face: it always finds and aligns the faces")
	case !(c.TargetFRR >= 0 && c.TargetFRR < 0.5):
		return fmt.Errorf("target false rejection %v: must be in [0, 0.5)", c.TargetFRR)
	}
	for _, e := range c.Exclude {
		if strings.TrimSpace(e) == "" {
			return errors.New("--exclude: empty class name")
		}
	}
	return c.CheckTraining()
}

func (c *TrainConfig) head() HeadConfig {
	s, _ := optim.ParseSchedule(c.Schedule) // checked in Check
	return HeadConfig{Epochs: c.Epochs, Batch: c.Batch, Optimizer: c.Optimizer, LR: c.LR, Momentum: c.Momentum,
		WeightDecay: c.WeightDecay, Schedule: s, Seed: c.Seed}
}

// TrainResult is how a face run ended.
type TrainResult struct {
	Dir            string
	Classes        []string
	Train, Test    int // photos of the kept classes on each side of the split
	NoFace         []string
	Stats          Stats
	Rule           Rule
	Calibration    Calibration
	TestAcc        float64 // closed set, of the kept (last) head: its arg-max, no-face photos wrong
	TestAccOpenSet float64 // with the unknown rule
	History        []runs.EpochRecord
}

// runLog writes to the terminal streams and, time-stamped, to train.log.
type runLog struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
	file   io.Writer
}

func (l *runLog) toFile(s string) {
	if l.file == nil {
		return
	}
	ts := time.Now().Format("2006-01-02T15:04:05.000Z07:00")
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		io.WriteString(l.file, ts+" "+line+"\n")
	}
}

func (l *runLog) result(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.stdout, s)
	l.toFile(s)
}

func (l *runLog) notef(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprintf(format, args...)
	fmt.Fprintln(l.stderr, s)
	l.toFile(s)
}

func (l *runLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.toFile(fmt.Sprintf(format, args...))
}

// maxListed is how many problem photos are printed on the terminal; the
// log gets all of them.
const maxListed = 20

// Train makes a face run in cfg.Out: it scans and splits cfg.Data exactly
// as a VGG run does (same seed, same split.json), describes every photo of
// the kept classes (through the cache), takes the largest face of each
// training photo, calibrates the unknown rule on the training
// descriptors, trains the head for cfg.Epochs epochs printing the
// tutorial's line per epoch, and writes model.json, best.safetensors and
// last.safetensors (both the final head), history.csv, curves.png and
// train.log. Test photos in which no face is found count as errors.
//
// A face run keeps its last epoch's head rather than the epoch with the
// best test accuracy: choosing on the test split would make the test
// accuracy it reports optimistic, and the head has no validation split to
// choose on instead.
func Train(ctx context.Context, cfg TrainConfig, d Describer, out runs.Output) (_ *TrainResult, err error) {
	if cfg.TargetFRR == 0 {
		cfg.TargetFRR = DefaultTargetFRR
		if cfg.Augment {
			cfg.TargetFRR = AugmentedTargetFRR
		}
	}
	if cfg.PipelineVersion == "" {
		cfg.PipelineVersion = faces.PipelineVersion
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Data, err = filepath.Abs(cfg.Data); err != nil {
		return nil, err
	}
	cfg.Model = runs.ModelFace
	lg := &runLog{stdout: out.Stdout, stderr: out.Stderr}
	if lg.stdout == nil {
		lg.stdout = io.Discard
	}
	if lg.stderr == nil {
		lg.stderr = io.Discard
	}
	if err := runs.CheckNewRun(cfg.Out, "choose another --out"); err != nil {
		return nil, err
	}
	fd, err := prepareFaceData(&cfg)
	if err != nil {
		return nil, err
	}

	// From here on the run folder exists and is ours alone; a failure
	// removes what was made.
	lock, logFile, err := openRunFolder(&cfg, lg)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	defer logFile.Close()
	defer func() {
		if err == nil {
			return
		}
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = runs.Interrupted(err, "interrupted: the unfinished run in %s was removed; run the same command again: "+
				"the faces described so far are in the descriptor cache, so it picks up about where it stopped", cfg.Out)
		}
		lg.logf("error: %v", err)
		logFile.Close()
		runs.DiscardNewRun(cfg.Out, lock)
	}()
	ds := fd.ds
	for _, line := range ds.CrossClassNote() {
		lg.notef("%s", line)
	}
	listProblems(lg, fmt.Sprintf("skipping %d unusable file(s) in %s:", len(ds.Skipped), cfg.Data), ds.Skipped, cfg.Out)
	if err := fd.split.WriteFile(filepath.Join(cfg.Out, runs.SplitFile)); err != nil {
		return nil, err
	}
	lg.notef("%d classes, %d photos: %d for training, %d for testing", len(fd.classes), len(fd.trainIdx)+len(fd.testIdx),
		len(fd.trainIdx), len(fd.testIdx))
	if len(cfg.Exclude) > 0 {
		lg.notef("left out as strangers: %s", strings.Join(cfg.Exclude, ", "))
	}
	if untested := fd.untested(); len(untested) > 0 {
		lg.notef("%d of %d classes have a single photo: trained on, not tested (%s)", len(untested), len(fd.classes), shortList(untested, 5))
	}

	start := time.Now()
	photos, st, err := fd.describe(ctx, &cfg, d, out, lg)
	if err != nil {
		return nil, err
	}
	lg.notef("faces described in %s: %d computed, %d from the cache", time.Since(start).Round(time.Millisecond), st.Computed, st.Cached)
	res := &TrainResult{Dir: cfg.Out, Classes: fd.classes, Train: len(fd.trainIdx), Test: len(fd.testIdx), Stats: st}
	model, testX, err := fd.fit(ctx, &cfg, d, out, photos, res, lg)
	if err != nil {
		return nil, err
	}
	if err := writeRun(&cfg, model, res, start, lg); err != nil {
		return nil, err
	}
	if len(testX) == 0 {
		lg.notef("no test photos, so no test accuracy (every class has a single photo): %s", filepath.Join(cfg.Out, runs.BestFile))
		return res, nil
	}
	lg.notef("%s", keptNote(res, countFaceless(testX), len(testX), filepath.Join(cfg.Out, runs.BestFile)))
	return res, nil
}

// faceData is the scanned and split data folder of a face run.
type faceData struct {
	ds                *data.Dataset
	split             *data.Split
	classes           []string // the kept classes
	toKept            []int    // data folder class -> kept class, -1 when excluded
	trainIdx, testIdx []int    // kept samples on each side of the split
}

// prepareFaceData scans and splits cfg.Data before anything is written.
func prepareFaceData(cfg *TrainConfig) (*faceData, error) {
	ds, err := data.Scan(cfg.Data, data.ScanOptions{Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	if err := runs.CheckClassNames(ds.Classes); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", cfg.Data, err)
	}
	fd := &faceData{ds: ds, toKept: make([]int, len(ds.Classes))}
	keep := make([]bool, len(ds.Classes))
	for i := range keep {
		keep[i] = true
	}
	for _, e := range cfg.Exclude {
		i := slices.Index(ds.Classes, e)
		if i < 0 {
			return nil, fmt.Errorf("--exclude %q: %s has no such class (it has %s)", e, cfg.Data, strings.Join(ds.Classes, ", "))
		}
		keep[i] = false
	}
	for i, c := range ds.Classes {
		fd.toKept[i] = -1
		if keep[i] {
			fd.toKept[i] = len(fd.classes)
			fd.classes = append(fd.classes, c)
		}
	}
	if len(fd.classes) < 2 {
		return nil, fmt.Errorf("data folder %s leaves %d class(es) to train on; a face run needs at least two sub-folders of photos",
			cfg.Data, len(fd.classes))
	}
	// The split of the whole folder, as a VGG run with the same seed makes
	// it; excluded classes are then dropped from both sides, so the kept
	// classes are split exactly as in the full run.
	if fd.split, err = data.StratifiedSplit(ds, cfg.TrainFrac, cfg.Seed); err != nil {
		return nil, err
	}
	trainIdx, testIdx, err := fd.split.Indices(ds)
	if err != nil {
		return nil, err
	}
	kept := func(idx []int) []int {
		return slices.DeleteFunc(idx, func(i int) bool { return !keep[ds.Samples[i].Class] })
	}
	fd.trainIdx, fd.testIdx = kept(trainIdx), kept(testIdx)
	if len(fd.trainIdx) == 0 {
		return nil, fmt.Errorf("%s: the split left no training images", cfg.Data)
	}
	return fd, nil
}

// openRunFolder takes cfg.Out for a new run (see runs.StartNewRun) and
// opens its train.log, which lg then writes to.
func openRunFolder(cfg *TrainConfig, lg *runLog) (*runs.RunLock, *os.File, error) {
	var taken []string
	lock, err := runs.StartNewRun(cfg.Out, "starid train --model face", "choose another --out", func(msg string) { taken = append(taken, msg) })
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(cfg.Out, runs.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		runs.DiscardNewRun(cfg.Out, lock)
		return nil, nil, err
	}
	lg.file = logFile
	lg.logf("starid train %s --model face --out %s --epochs %d --batch %d --optimizer %s --lr %g --schedule %s --weight-decay %g --train-frac %g --seed %d --exclude %q (starid %s, pipeline %s)",
		cfg.Data, cfg.Out, cfg.Epochs, cfg.Batch, cfg.Optimizer, cfg.LR, cfg.Schedule, cfg.WeightDecay, cfg.TrainFrac, cfg.Seed,
		strings.Join(cfg.Exclude, ","), runs.StaridVersion(), cfg.PipelineVersion)
	for _, msg := range taken {
		lg.notef("%s", msg)
	}
	return lock, logFile, nil
}

// describe describes every kept photo, training side first.
func (fd *faceData) describe(ctx context.Context, cfg *TrainConfig, d Describer, out runs.Output, lg *runLog) ([]Photo, Stats, error) {
	all := append(slices.Clone(fd.trainIdx), fd.testIdx...)
	paths, keys := make([]string, len(all)), make([]string, len(all))
	for r, i := range all {
		paths[r], keys[r] = fd.ds.Samples[i].Path, fd.ds.Samples[i].SHA256
	}
	return Describe(ctx, d, paths, keys, DescribeOptions{Cache: cfg.Cache, Workers: cfg.Workers,
		Progress:  out.Progress,
		Landmarks: cfg.Augment, // to align the augmented chips
		Note:      func(msg string) { lg.notef("%s", msg) }})
}

// trainingSide lists the photos the pipeline could not use (no face, or
// an error; a describer that could not load ends the run instead) and
// returns the training descriptors with their kept-class labels.
func (fd *faceData) trainingSide(cfg *TrainConfig, photos []Photo, res *TrainResult, lg *runLog) ([][]float32, []int, []int, error) {
	var problems []data.Skipped
	var trainX [][]float32
	var trainY, from []int
	for r, p := range photos {
		if p.Err != nil {
			if le := (*LoadError)(nil); errors.As(p.Err, &le) {
				return nil, nil, nil, le
			}
			problems = append(problems, data.Skipped{Path: p.Path, Reason: reason(p.Err)})
			continue
		}
		f := p.Largest()
		if f == nil {
			problems = append(problems, data.Skipped{Path: p.Path, Reason: "no face found"})
			rel, _ := filepath.Rel(cfg.Data, p.Path)
			res.NoFace = append(res.NoFace, filepath.ToSlash(rel))
			continue
		}
		if r < len(fd.trainIdx) {
			trainX = append(trainX, f.Descriptor)
			trainY = append(trainY, fd.toKept[fd.ds.Samples[fd.trainIdx[r]].Class])
			from = append(from, r)
		}
	}
	listProblems(lg, fmt.Sprintf("%d photo(s) without a usable face (left out of training; errors in the test accuracy):", len(problems)),
		problems, cfg.Out)
	counts := make([]int, len(fd.classes))
	for _, y := range trainY {
		counts[y]++
	}
	for c, n := range counts {
		if n == 0 {
			return nil, nil, nil, fmt.Errorf("class %s: no face was found in any of its training photos; a face run needs at least one", fd.classes[c])
		}
	}
	return trainX, trainY, from, nil
}

// fit calibrates the unknown rule and trains the head, printing an epoch
// line each epoch; it fills res and returns the final head and the faces
// of each test photo (none for a photo without a usable face).
func (fd *faceData) fit(ctx context.Context, cfg *TrainConfig, d Describer, out runs.Output, photos []Photo, res *TrainResult, lg *runLog) (*Model, [][]faces.Face, error) {
	trainX, trainY, from, err := fd.trainingSide(cfg, photos, res, lg)
	if err != nil {
		return nil, nil, err
	}
	measured := len(trainX)
	var group []int
	if cfg.Augment {
		lg.notef("augmenting the %d training faces (%d copies each: mirrored, shaken, relit, grey, compressed, reframed)",
			len(trainX), len(DefaultAugmentations()))
		start := time.Now()
		if trainX, trainY, group, err = augmentTraining(ctx, d, cfg.Cache, photos, trainX, trainY, from, out.Progress); err != nil {
			return nil, nil, err
		}
		lg.notef("augmented in %s: %d training descriptors", time.Since(start).Round(time.Millisecond), len(trainX))
	}
	hc := cfg.head()
	rule, cal, err := CalibrateGroups(ctx, fd.classes, trainX, trainY, group, measured, cfg.TargetFRR)
	if err != nil {
		return nil, nil, err
	}
	res.Rule, res.Calibration = rule, cal
	lg.notef("unknown rule: distance to the centroid above %.3f (%s; rejects %.1f%% of %d known training faces)",
		rule.MaxDistance, cal.Method, 100*cal.FalseRejection, cal.Samples)

	// The test side: every kept test photo's faces, in split order.
	testFaces := make([][]faces.Face, len(fd.testIdx))
	testY := make([]int, len(fd.testIdx))
	for r := range fd.testIdx {
		p := photos[len(fd.trainIdx)+r]
		testY[r] = fd.toKept[fd.ds.Samples[fd.testIdx[r]].Class]
		if p.Err == nil {
			testFaces[r] = p.Faces
		}
	}
	epochStart := time.Now()
	model, err := Fit(ctx, fd.classes, trainX, trainY, hc, func(m *Model, s EpochStats) error {
		if err := runs.Diverged(s.Epoch, "training", s.TrainLoss, cfg.LR); err != nil {
			return err
		}
		rec := runs.EpochRecord{Epoch: s.Epoch, TrainAcc: s.TrainAcc, TrainLoss: s.TrainLoss, LR: s.LR}
		rec.TestAcc, rec.TestLoss, _ = testScores(m, testFaces, testY, rule, Rule{MaxDistance: math.Inf(1)})
		if err := runs.Diverged(s.Epoch, "test", rec.TestLoss, cfg.LR); err != nil {
			return err
		}
		rec.DurationMS = time.Since(epochStart).Milliseconds()
		epochStart = time.Now()
		res.History = append(res.History, rec)
		// Unmarked: no epoch is chosen by its test accuracy.
		lg.result(rec.Line(cfg.Epochs))
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// The kept epoch, as history.csv and curves.png show it.
	last := &res.History[len(res.History)-1]
	last.Best = true
	res.TestAcc = last.TestAcc
	res.TestAccOpenSet, _, _ = testScores(model, testFaces, testY, rule, rule)
	return model, testFaces, nil
}

// keptNote is a face run's last line: which head it keeps, where, and
// how it scores on the test split, with, for information only, where the
// highest test accuracy was when the kept epoch scores lower.
func keptNote(res *TrainResult, noFace, tests int, path string) string {
	h := res.History
	last := h[len(h)-1]
	s := fmt.Sprintf("kept the head of the last epoch (%d of %d) in %s: test accuracy %.1f%% (%.1f%% with the unknown rule; "+
		"%d of %d test photos without a usable face count as errors); face runs choose no epoch on the test split, "+
		"so this is a fair held-out figure", last.Epoch, len(h), path, 100*res.TestAcc, 100*res.TestAccOpenSet, noFace, tests)
	first, times := 0, 0
	for i, r := range h {
		switch {
		case r.TestAcc > h[first].TestAcc:
			first, times = i, 1
		case r.TestAcc == h[first].TestAcc:
			times++
		}
	}
	if top := h[first]; top.TestAcc > last.TestAcc {
		s += fmt.Sprintf(" (for information: the highest test accuracy, %.1f%%, was first reached at epoch %d, in %d epoch(s) in all)",
			100*top.TestAcc, top.Epoch, times)
	}
	return s
}

// writeRun writes the finished face run's files: the head (as best and
// last), model.json, history.csv and curves.png.
func writeRun(cfg *TrainConfig, model *Model, res *TrainResult, start time.Time, lg *runLog) error {
	run := &FaceRun{Dir: cfg.Out, Model: model}
	abs := cfg.Settings
	abs.Model, abs.Size, abs.Crop = runs.ModelFace, 0, ""
	thr := res.Rule.MaxDistance
	run.Info = runs.ModelInfo{Version: runs.ModelInfoVersion, Model: runs.ModelFace, Classes: res.Classes,
		Data: cfg.Data, Seed: cfg.Seed, TrainFrac: cfg.TrainFrac, Unknown: &thr, PipelineVersion: cfg.PipelineVersion,
		BestEpoch: cfg.Epochs, BestTestAcc: res.TestAcc, Config: abs,
		Created: start.UTC().Format(time.RFC3339), StaridVersion: runs.StaridVersion()}
	run.Face = FaceInfo{Normalize: "standardize", MinProbability: res.Rule.MinProbability, Calibration: res.Calibration,
		Excluded: cfg.Exclude, NoFace: res.NoFace, TestAccOpenSet: res.TestAccOpenSet}
	for _, name := range []string{runs.BestFile, runs.LastFile} {
		if err := model.Save(filepath.Join(cfg.Out, name), cfg.PipelineVersion, cfg.Epochs); err != nil {
			return err
		}
	}
	if err := run.writeInfo(); err != nil {
		return err
	}
	plotErr, err := runs.WriteHistoryFiles(cfg.Out, runs.ModelFace, runs.KeepLast, res.History)
	if err != nil {
		return err
	}
	if plotErr != nil {
		lg.notef("warning: %s not drawn: %v", filepath.Join(cfg.Out, runs.CurvesFile), plotErr)
	}
	return nil
}

// reason is an error without the photo's path (the listing shows it).
func reason(err error) string {
	if ie := (*data.ImageError)(nil); errors.As(err, &ie) {
		return ie.Reason
	}
	return err.Error()
}

func countFaceless(x [][]faces.Face) int {
	n := 0
	for _, v := range x {
		if len(v) == 0 {
			n++
		}
	}
	return n
}

// testScores is the accuracy over every test photo (one without a face is
// wrong) under rule, and the mean cross-entropy over the photos that have a
// face. Each photo is answered by the face eval answers it by: the one
// Model.IdentifyPhoto picks under pick (the calibrated rule), so that the
// run's figure and eval's on the same split agree.
func testScores(m *Model, x [][]faces.Face, y []int, pick, rule Rule) (acc, loss float64, unknown int) {
	correct, described := 0, 0
	for i, fs := range x {
		f, _ := m.IdentifyPhoto(fs, pick, 1)
		if f < 0 {
			continue
		}
		a := m.Identify(fs[f].Descriptor, rule, 1)
		if a.Class == y[i] {
			correct++
		}
		if a.Class == eval.Unknown {
			unknown++
		}
		loss += logSumExp(a.Logits) - float64(a.Logits[y[i]])
		described++
	}
	if described > 0 {
		loss /= float64(described)
	}
	return float64(correct) / float64(max(len(x), 1)), loss, unknown
}

func logSumExp(row []float32) float64 {
	p := make([]float64, len(row))
	return nn.SoftmaxRow(p, row)
}

// listProblems prints up to maxListed photos and logs them all.
func listProblems(lg *runLog, header string, sk []data.Skipped, out string) {
	if len(sk) == 0 {
		return
	}
	lg.notef("%s", header)
	for i, s := range sk {
		if i < maxListed {
			lg.notef("  %s: %s", data.ShowPath(s.Path), s.Reason)
		} else {
			lg.logf("  %s: %s", data.ShowPath(s.Path), s.Reason)
		}
	}
	if len(sk) > maxListed {
		lg.notef("  ... and %d more (all listed in %s)", len(sk)-maxListed, filepath.Join(out, runs.LogFile))
	}
}
