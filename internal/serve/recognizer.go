package serve

import (
	"context"

	"starid/internal/faces"
	"starid/internal/recognize"
)

// FromRecognizer serves a recognize.Recognizer: a face run names every face
// the pipeline finds; a whole-photo VGG run names the photo as one face
// whose box is the whole photo, as `starid predict` does.
func FromRecognizer(r recognize.Recognizer) Recognizer { return adapted{r} }

type adapted struct{ r recognize.Recognizer }

func (a adapted) Info() ModelInfo {
	i := a.r.Info()
	return ModelInfo{Classes: i.Classes, Kind: i.Kind, Threshold: i.Threshold}
}

func (a adapted) Recognize(ctx context.Context, img *faces.Image) ([]Face, error) {
	found, err := a.r.Recognize(ctx, recognize.FromFaces(img))
	if err != nil {
		return nil, err
	}
	return recognize.Answers(found), nil
}
