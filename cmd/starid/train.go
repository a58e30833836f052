package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize"
	"starid/internal/runs"
	"starid/internal/train"
)

func init() { addCommand(newTrainCmd) }

// trainOptions are train's flags; the run's settings bind straight into
// runs.Settings.
type trainOptions struct {
	runs.Settings
	crop, exclude, cache string
	json                 bool
}

func newTrainCmd() *cobra.Command {
	d := train.DefaultConfig()
	o := trainOptions{Settings: d.Settings, crop: string(d.Crop)}
	c := command("train DIR --model NAME --out RUN", "train a model on a folder of photos, one sub-folder per person", func(c *cobra.Command, args []string) error {
		return o.run(args, given(c.Flags()), c.OutOrStdout(), c.ErrOrStderr())
	})
	f := c.Flags()
	s := &o.Settings
	f.StringVar(&s.Model, "model", "", "model `NAME`: "+modelNames()+", or face")
	f.StringVar(&s.Out, "out", "", "run `folder` to create (or continue with --resume)")
	f.IntVar(&s.Size, "size", d.Size, "input height and width in pixels")
	f.Float64Var(&s.Width, "width", d.Width, "VGG models: scale every convolution's channel count (0.5: half as many, about a quarter of the work)")
	f.IntVar(&s.Epochs, "epochs", d.Epochs, fmt.Sprintf("number of epochs (with --resume: the new total; --model face: %d unless given)", identify.DefaultEpochs))
	f.IntVar(&s.Batch, "batch", d.Batch, "batch size")
	f.StringVar(&s.Optimizer, "optimizer", d.Optimizer, "optimizer: adam, adamw or sgd")
	f.Float64Var(&s.LR, "lr", d.LR, fmt.Sprintf("base learning rate (--model face: %g unless given)", identify.DefaultLR))
	f.Float64Var(&s.Momentum, "momentum", d.Momentum, "SGD momentum")
	f.StringVar(&s.Schedule, "schedule", d.Schedule, "learning-rate `schedule` per epoch: step:GAMMA:EVERY, steplr:SIZE:GAMMA, cosine:TMAX[:MIN] or none (--model face: "+identify.DefaultSchedule+" unless given)")
	f.Float64Var(&s.WeightDecay, "weight-decay", d.WeightDecay, "optimizer weight decay")
	f.Float64Var(&s.L1, "l1", d.L1, "L1 penalty weight added to the loss")
	f.Float64Var(&s.L2, "l2", d.L2, "L2 penalty weight added to the loss")
	f.Float64Var(&s.TrainFrac, "train-frac", d.TrainFrac, "share of each class used for training; the rest is the test split")
	f.Uint64Var(&s.Seed, "seed", d.Seed, "seed for the split, the initial weights, batch order, augmentation and dropout")
	f.BoolVar(&s.Augment, "augment", false, "random resized crop, flip and colour jitter on training images (--model face: also describe each training face mirrored, blurred, relit and reframed)")
	f.StringVar(&o.crop, "crop", string(d.Crop), "face (train on the largest face of each photo plus a margin; needs the face models), "+
		"aligned (on that face turned and scaled so its eyes and mouth sit in fixed places) or none (the whole photo)")
	f.Float64Var(&s.CropMargin, "crop-margin", d.CropMargin, "--crop face: share of the face box's longer side added on each side; "+
		fmt.Sprintf("--crop aligned: room around the face in units of its size, %g unless given", facecrop.DefaultAlignPadding))
	f.BoolVar(&s.Resume, "resume", false, "continue the interrupted run in --out")
	workersFlag(f, &s.Workers, "image decoding")
	f.StringVar(&o.exclude, "exclude", "", "face runs: comma-separated class `folders` to leave out of training, as strangers for eval --strangers")
	cacheFlag(f, &o.cache, "face runs and --crop face or aligned: ")
	f.BoolVar(&o.json, "json", false, "print the finished run's summary as JSON on stdout (progress goes to stderr)")
	return c
}

func (o *trainOptions) run(args, given []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usagef("want one data folder, got %d arguments", len(args))
	}
	if err := checkWorkers(&o.Settings.Workers, stderr); err != nil {
		return err
	}
	s, err := train.FromFlags(o.Settings, args[0], o.crop, o.exclude, given)
	if err != nil {
		return err
	}
	if s.Model == runs.ModelFace {
		return o.trainFace(s, stdout, stderr)
	}
	// Always set: a resumed run may be a crop=face or aligned one without
	// saying so. The face models load only when a photo is not in the
	// cache.
	cfg := train.Config{Settings: s, FacePipeline: faces.PipelineVersion, AlignChip: recognize.AlignedChip}
	cfg.FaceBoxes = func(ctx context.Context, paths, keys []string, landmarks bool) ([]train.FaceFind, error) {
		return describing(o.cache, s.Workers, faces.AutoDetector, stderr).CropFinder()(ctx, paths, keys, landmarks)
	}
	ctx, stop := interruptible()
	defer stop()
	streams, bar := runs.ConsoleOutput(stdout, stderr, o.json, "epoch")
	defer bar.Finish() // erased before an interruption's message
	sum, err := train.Train(ctx, cfg, train.Output{Output: streams})
	if err != nil || !o.json {
		return err
	}
	return writeJSON(stdout, sum.Result(s.Model))
}

// trainFace is `train --model face`: identify.Train with the face
// trainer's defaults.
func (o *trainOptions) trainFace(s runs.Settings, stdout, stderr io.Writer) error {
	var names []string
	if o.exclude != "" {
		names = strings.Split(o.exclude, ",")
	}
	fc, err := identify.NewTrainConfig(s, names, faces.PipelineVersion)
	if err != nil {
		return usagef("%v", err)
	}
	fc.Cache = descriptorCache(o.cache, faces.AutoDetector, stderr)
	ctx, stop := interruptible()
	defer stop()
	streams, bar := runs.ConsoleOutput(stdout, stderr, o.json, "describing faces")
	defer bar.Finish()
	res, err := identify.Train(ctx, fc, newDescriber(faces.AutoDetector), streams)
	if err != nil || !o.json {
		return err
	}
	return writeJSON(stdout, res.Result())
}
