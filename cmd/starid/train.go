package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/progress"
	"starid/internal/runs"

	"starid/internal/models"
	"starid/internal/train"
)

func init() {
	register("train", "train a model on a folder of photos, one sub-folder per person", runTrain)
}

const trainUsage = "train DIR --model NAME --out RUN [--size 224] [--width 1] [--epochs 40] [--batch 32] [--optimizer adam|adamw|sgd]\n" +
	"             [--lr 1e-4] [--momentum 0.9] [--schedule step:0.92:4] [--weight-decay 0] [--l1 0] [--l2 0] [--train-frac 0.8]\n" +
	"             [--seed 1] [--augment] [--crop face|aligned|none] [--crop-margin 0.25|0.5] [--cache DIR] [--resume] [--workers N]\n" +
	"             [--exclude NAME,...]"

func runTrain(args []string, stdout, stderr io.Writer) error {
	d := train.DefaultConfig()
	fs := newFlagSet("train", trainUsage, stderr)
	model := fs.String("model", "", "model name: "+joinNames(models.Names())+", or face")
	out := fs.String("out", "", "run directory to create (or continue with --resume)")
	size := fs.Int("size", d.Size, "input height and width in pixels")
	width := fs.Float64("width", d.Width, "VGG models: scale every convolution's channel count (0.5: half as many, about a quarter of the work)")
	epochs := fs.Int("epochs", d.Epochs, fmt.Sprintf("number of epochs (with --resume: the new total; --model face: %d unless given)", identify.DefaultEpochs))
	batch := fs.Int("batch", d.Batch, "batch size")
	opt := fs.String("optimizer", d.Optimizer, "optimizer: adam, adamw or sgd")
	lr := fs.Float64("lr", d.LR, fmt.Sprintf("base learning rate (--model face: %g unless given)", identify.DefaultLR))
	momentum := fs.Float64("momentum", d.Momentum, "SGD momentum")
	sched := fs.String("schedule", d.Schedule, `learning-rate schedule per epoch: step:GAMMA:EVERY, steplr:SIZE:GAMMA, cosine:TMAX[:MIN] or none (--model face: `+identify.DefaultSchedule+` unless given)`)
	wd := fs.Float64("weight-decay", d.WeightDecay, "optimizer weight decay")
	l1 := fs.Float64("l1", d.L1, "L1 penalty weight added to the loss")
	l2 := fs.Float64("l2", d.L2, "L2 penalty weight added to the loss")
	frac := fs.Float64("train-frac", d.TrainFrac, "share of each class used for training; the rest is the test split")
	seed := fs.Uint64("seed", d.Seed, "seed for the split, the initial weights, batch order, augmentation and dropout")
	augment := fs.Bool("augment", false, "random resized crop, flip and colour jitter on training images")
	crop := fs.String("crop", string(d.Crop), "face (train on the largest face of each photo plus a margin; needs the face models), "+
		"aligned (on that face turned and scaled so its eyes and mouth sit in fixed places) or none (the whole photo)")
	margin := fs.Float64("crop-margin", d.CropMargin, "--crop face: share of the face box's longer side added on each side; "+
		fmt.Sprintf("--crop aligned: room around the face in units of its size, %g unless given", facecrop.DefaultAlignPadding))
	resume := fs.Bool("resume", false, "continue the interrupted run in --out")
	workers := fs.Int("workers", 0, "image decoding goroutines (0: one per core)")
	exclude := fs.String("exclude", "", "face runs: comma-separated class folders to leave out of training, as strangers for eval --strangers")
	cacheDir := fs.String("cache", "", "face runs and --crop face or aligned: "+cacheHelp)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one data folder, got %d arguments (usage: starid %s)", len(pos), trainUsage)
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *model == "" {
		return usagef("--model is required (one of %s, or face)", joinNames(models.Names()))
	}
	if _, err := facecrop.ParseMode(*crop); err != nil || *crop == "" {
		return usagef("--crop %q: want face, aligned or none", *crop)
	}
	if !oneOf(*opt, "adam", "adamw", "sgd") {
		return usagef("--optimizer %q: want adam, adamw or sgd", *opt)
	}
	var given []string
	fs.Visit(func(f *flag.Flag) { given = append(given, f.Name) })
	if *model != runs.ModelFace && *exclude != "" {
		return usagef("--exclude applies to --model face only")
	}
	if slices.Contains(given, "width") && *model == runs.ModelFace {
		return usagef("--width applies to the VGG models only")
	}
	if *model == runs.ModelFace && *crop != "none" {
		return usagef("--crop %s applies to the VGG models: --model face always finds and aligns the faces itself", *crop)
	}
	// A resumed run takes its crop from model.json, so only an explicit
	// --crop none makes --crop-margin meaningless.
	if slices.Contains(given, "crop-margin") && (*model == runs.ModelFace || (!facecrop.Mode(*crop).FindsFaces() && !*resume)) {
		return usagef("--crop-margin applies to --crop face and --crop aligned only")
	}
	// The two crops' margins mean different things, so each has its own
	// default; a resumed run keeps its own unless the flag is given.
	if facecrop.Mode(*crop) == facecrop.Aligned && !slices.Contains(given, "crop-margin") {
		*margin = facecrop.DefaultAlignPadding
	}
	cfg := train.Config{Settings: runs.Settings{
		Data: pos[0], Out: *out, Model: *model, Width: *width, Size: *size, Epochs: *epochs, Batch: *batch, Optimizer: *opt,
		LR: *lr, Momentum: *momentum, Schedule: *sched, WeightDecay: *wd, L1: *l1, L2: *l2, TrainFrac: *frac,
		Seed: *seed, Augment: *augment, Crop: facecrop.Mode(*crop), CropMargin: *margin, Resume: *resume, Workers: *workers, Given: given,
	}}
	if *model == runs.ModelFace {
		return trainFace(cfg.Settings, given, *exclude, *cacheDir, stdout, stderr)
	}
	if err := train.CheckConfig(cfg); err != nil {
		return usagef("%v", err)
	}
	// Always set: a resumed run may be a crop=face or aligned one without
	// saying so. The face models load only when a photo is not in the
	// cache.
	cfg.FacePipeline = faces.PipelineVersion
	cfg.FaceBoxes = func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		return cropFaceFinder(descriptorCache(*cacheDir, stderr), *workers, stderr)(ctx, paths, keys, landmarks)
	}
	cfg.AlignChip = alignedChip

	// Ctrl-C (or a polite kill) ends the epoch in progress without writing
	// it; the run stays resumable from the last completed one.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C should kill at once, as usual.
		<-ctx.Done()
		stop()
	}()
	streams, bar := trainOutput(stdout, stderr, "epoch")
	defer bar.Finish() // erased before an interruption's message
	_, err = train.Train(ctx, cfg, train.Output{Output: streams})
	return err
}

// trainFace is `train --model face`: the face settings' own defaults for
// what the user did not give, then identify.Train.
func trainFace(cfg runs.Settings, given []string, exclude, cacheDir string, stdout, stderr io.Writer) error {
	if !slices.Contains(given, "epochs") {
		cfg.Epochs = identify.DefaultEpochs
	}
	if !slices.Contains(given, "lr") {
		cfg.LR = identify.DefaultLR
	}
	if !slices.Contains(given, "schedule") {
		cfg.Schedule = identify.DefaultSchedule
	}
	if slices.Contains(given, "size") {
		return usagef("--size does not apply to --model face (the face pipeline chooses its own crops)")
	}
	cfg.Size, cfg.CropMargin = 0, 0 // the pipeline picks the crops
	fc := identify.TrainConfig{Settings: cfg, PipelineVersion: faces.PipelineVersion}
	if exclude != "" {
		fc.Exclude = strings.Split(exclude, ",")
	}
	if err := fc.Check(); err != nil {
		return usagef("%v", err)
	}
	fc.Cache = descriptorCache(cacheDir, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams, bar := trainOutput(stdout, stderr, "describing faces")
	defer bar.Finish() // erased before an interruption's message
	_, err := identify.Train(ctx, fc, newDescriber(), streams)
	return err
}

// trainOutput is a run's streams with a progress bar (labelled with what
// the run's long step is) on stderr when it is a terminal; both streams
// erase the bar before a line. The caller finishes the bar.
func trainOutput(stdout, stderr io.Writer, label string) (runs.Output, *progress.Bar) {
	bar := progress.New(stderr, 0, label)
	return runs.Output{Stdout: bar.Writer(stdout), Stderr: bar.Writer(stderr), Progress: bar.Func()}, bar
}
