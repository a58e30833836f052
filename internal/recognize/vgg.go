package recognize

import (
	"context"
	"fmt"
	"image"
	"sync"

	"starid/internal/data"
	"starid/internal/eval"
	"starid/internal/facecrop"
	"starid/internal/faces"
	"starid/internal/runs"
	"starid/internal/tensor"
)

// vggRun names photos with a VGG run: the whole photo as one face, or, for
// a run trained with --crop face or aligned, each face's square or chip,
// cut as training cut it.
type vggRun struct {
	run       *runs.Run
	tf        data.Transform
	mode      facecrop.Mode
	threshold float64
	k         int
	finder    Finder     // nil for whole-photo runs
	mu        sync.Mutex // the network's layers own their buffers
	x         *tensor.Tensor
}

func openVGGRun(dir string, opt Options) (*vggRun, error) {
	run, err := runs.OpenRun(dir)
	if err != nil {
		return nil, err
	}
	mode, err := facecrop.ParseMode(string(run.Info.Crop))
	if err != nil {
		return nil, fmt.Errorf("the run was trained on %q crops, which this starid cannot make", run.Info.Crop)
	}
	r := &vggRun{run: run, tf: Transform(run.Info), mode: mode, k: opt.TopK}
	if t := run.Info.Unknown; t != nil {
		r.threshold = *t
	}
	if opt.Threshold != nil {
		r.threshold = *opt.Threshold
	}
	if r.finder, err = openFinder(opt, mode.FindsFaces()); err != nil {
		return nil, err
	}
	return r, nil
}

// Transform is the evaluation preprocessing a VGG run was trained with.
func Transform(info runs.ModelInfo) data.Transform {
	return data.Transform{Size: info.Size, Mean: info.Mean, Std: info.Std}
}

// ChipSide is the chip side of an aligned run: the one its model.json
// records (runs always record it; the fallback is the rule they used).
func ChipSide(info runs.ModelInfo) int {
	if info.ChipSize > 0 {
		return info.ChipSize
	}
	return facecrop.ChipSide(info.Size)
}

// PipelineWarning tells when a crop run's faces were found by another
// face pipeline than this starid's: its boxes, and so the crops, may then
// differ a little from the ones the run was trained and tested on.
func PipelineWarning(info runs.ModelInfo) string {
	m, _ := facecrop.ParseMode(string(info.Crop))
	if !m.FindsFaces() || info.PipelineVersion == faces.PipelineVersion {
		return ""
	}
	return fmt.Sprintf("warning: the run's face crops came from face pipeline %q, this starid has %q; crops may differ slightly from training's",
		info.PipelineVersion, faces.PipelineVersion)
}

func (r *vggRun) Info() Info {
	return Info{Classes: r.run.Info.Classes, Kind: r.run.Info.Model, Threshold: r.threshold, Crop: r.mode,
		Warning: PipelineWarning(r.run.Info), Source: r.run.Dir}
}

func (r *vggRun) FindsFaces() bool { return r.mode.FindsFaces() }

func (r *vggRun) Recognize(ctx context.Context, p *Photo) ([]Face, error) {
	var found []faces.Face
	if r.mode.FindsFaces() {
		var err error
		if found, err = findFaces(r.finder, p); err != nil {
			return nil, err
		}
	}
	return r.Name(ctx, p, found)
}

func (r *vggRun) Name(ctx context.Context, p *Photo, found []faces.Face) ([]Face, error) {
	img := p.RGBA()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.x = tensor.Reuse(r.x, 1, 3, r.tf.Size, r.tf.Size)
	if len(found) == 0 || !r.mode.FindsFaces() {
		// No face (or a whole-photo model): the photo is the answer's box.
		f, err := r.region(img, img.Rect)
		if err != nil {
			return nil, err
		}
		return []Face{f}, nil
	}
	out := make([]Face, 0, len(found))
	for _, face := range found {
		src, cut := img, facecrop.Around(face.Box, img.Rect, r.run.Info.CropMargin)
		if r.mode == facecrop.Aligned {
			chip, err := facecrop.AlignedChip(p.Faces(), face.Landmarks, r.run.Info.CropMargin, ChipSide(r.run.Info))
			if err != nil {
				return nil, err
			}
			src, cut = chip, chip.Rect
		}
		f, err := r.region(src, cut)
		if err != nil {
			return nil, err
		}
		f.Box = face.Box
		out = append(out, f)
	}
	return out, nil
}

// region names the region cut of img (the whole photo, or a face crop);
// the answer's box is cut.
func (r *vggRun) region(img *image.RGBA, cut image.Rectangle) (Face, error) {
	if err := r.tf.Apply(img.SubImage(cut), nil, r.x.Data); err != nil {
		return Face{}, err
	}
	logits, err := r.run.Model.Forward(r.x)
	if err != nil {
		return Face{}, err
	}
	classes := r.run.Info.Classes
	if logits.Numel() != len(classes) {
		return Face{}, fmt.Errorf("the model gives %d scores for %d classes", logits.Numel(), len(classes))
	}
	probs := eval.Softmax(logits.Data)
	f := Face{Box: rectBox(cut)}
	for _, j := range eval.TopK(logits.Data, r.k) {
		f.Top = append(f.Top, Candidate{Name: classes[j], Probability: probs[j]})
	}
	f.Name, f.Confidence = f.Top[0].Name, f.Top[0].Probability
	if r.threshold > 0 && f.Confidence < r.threshold {
		f.Name, f.Unknown = eval.UnknownName, true
	}
	return f, nil
}
