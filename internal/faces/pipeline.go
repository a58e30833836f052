package faces

import "errors"

// PipelineVersion names everything that decides a descriptor: the weights,
// the detector sizes and policy, the landmark net and the alignment
// template. Descriptor caches are keyed by it, so it must change whenever
// any of those does.
const PipelineVersion = "face-api-1.7.15/starid-1"

// Pipeline finds, aligns and describes every face in a photo.
type Pipeline struct{}

// LoadPipeline loads the three nets from modelDir (the folder holding
// model/, see ModelDir).
func LoadPipeline(modelDir string) (*Pipeline, error) {
	return nil, errors.New("faces: the face pipeline is being assembled (issue 4)")
}

// Faces returns every face in img with its landmarks and descriptor,
// largest box first. A photo without faces gives an empty slice.
func (p *Pipeline) Faces(img *Image) ([]Face, error) {
	return nil, errors.New("faces: the face pipeline is being assembled (issue 4)")
}
