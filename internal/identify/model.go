package identify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"starid/internal/atomicfile"
	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/nn"
	"starid/internal/runs"
	"starid/internal/safetensors"
	"starid/internal/tensor"
)

// Rule is the open-set decision: a face is "unknown" when its descriptor
// is farther than MaxDistance (Euclidean, raw descriptor space) from the
// centroid of the class the head picks, or when the head's probability for
// that class is below MinProbability. The distance does the real work (a
// stranger's descriptor is far from every enrolled person's); the
// probability floor catches faces the head finds ambiguous between two
// people.
type Rule struct {
	MaxDistance    float64 `json:"max_distance"`
	MinProbability float64 `json:"min_probability"`
}

// Score is how far an answer is from being accepted, in units of the
// distance limit: the face is named when its score is at most 1. An answer
// the probability floor refuses scores +Inf, so a sweep over the limit (a
// DET curve) moves only the distance, as a --threshold would.
func (r Rule) Score(a Answer) float64 {
	if !(a.Probability >= r.MinProbability) || r.MaxDistance <= 0 {
		return math.Inf(1)
	}
	return a.Distance / r.MaxDistance
}

// Model is a face run's classifier: a linear softmax head on standardized
// descriptors, the class centroids, and what enroll needs to refit the head
// on old and new people: the training descriptors they came from, or a
// per-class Summary of them, or both (the built-in model keeps only the
// summary; a user's copy adds the descriptors of the photos enrolled).
type Model struct {
	Classes   []string
	Mean, Std []float32   // per-dimension standardization applied before the head
	Head      *nn.Linear  // DescriptorLen -> len(Classes), in evaluation mode
	Centroids [][]float32 // per class, mean raw descriptor
	Train     [][]float32 // raw training descriptors
	Labels    []int       // class of each Train row
	Summary   *Summary    // training descriptors not kept in Train; nil when all are
}

// standardize writes (x-mean)/std into dst.
func (m *Model) standardize(dst, x []float32) {
	for j, v := range x {
		dst[j] = (v - m.Mean[j]) / m.Std[j]
	}
}

// Candidate is one name of a ranking.
type Candidate struct {
	Name        string  `json:"name"`
	Probability float64 `json:"probability"`
}

// Answer is what the model says about one face.
type Answer struct {
	Class       int     // index into Classes, or eval.Unknown
	Name        string  // the class name, or eval.UnknownName
	Best        int     // the head's top class, even when the answer is unknown
	Probability float64 // the head's probability of Best
	Distance    float64 // descriptor's distance to Best's centroid
	// Closest is the class whose centroid is nearest, at ClosestDistance
	// (for "unknown (closest: X, distance 0.71)").
	Closest         int
	ClosestDistance float64
	Top             []Candidate // the head's ranking, best first
	Logits          []float32   // the head's scores, for losses and top-k
}

// Identify names one descriptor under rule, with the top k candidates.
func (m *Model) Identify(desc []float32, rule Rule, k int) Answer {
	x := tensor.New(1, DescriptorLen)
	m.standardize(x.Data, desc)
	y, err := m.Head.Forward(x)
	if err != nil {
		panic(err) // shapes are checked when the model is built or loaded
	}
	logits := slices.Clone(y.Data)
	probs := eval.Softmax(logits)
	a := Answer{Logits: logits, Best: eval.Argmax(logits), Closest: -1, ClosestDistance: math.Inf(1)}
	a.Probability = probs[a.Best]
	for c, cen := range m.Centroids {
		d := faces.Distance(desc, cen)
		if c == a.Best {
			a.Distance = d
		}
		if d < a.ClosestDistance {
			a.Closest, a.ClosestDistance = c, d
		}
	}
	for _, j := range eval.TopK(logits, k) {
		a.Top = append(a.Top, Candidate{Name: m.Classes[j], Probability: probs[j]})
	}
	a.Class, a.Name = a.Best, m.Classes[a.Best]
	if a.Closest < 0 { // a descriptor with NaNs is near nothing
		a.Closest = a.Best
	}
	// Written so that NaN distances and probabilities also mean unknown.
	if !(a.Distance <= rule.MaxDistance) || !(a.Probability >= rule.MinProbability) {
		a.Class, a.Name = eval.Unknown, eval.UnknownName
	}
	return a
}

// centroids is the mean descriptor of each class.
func centroids(x [][]float32, y []int, k int) [][]float32 {
	sum := make([][]float64, k)
	n := make([]int, k)
	for i := range sum {
		sum[i] = make([]float64, DescriptorLen)
	}
	for i, v := range x {
		n[y[i]]++
		for j, e := range v {
			sum[y[i]][j] += float64(e)
		}
	}
	out := make([][]float32, k)
	for c := range out {
		out[c] = make([]float32, DescriptorLen)
		for j := range out[c] {
			out[c][j] = float32(sum[c][j] / float64(max(n[c], 1)))
		}
	}
	return out
}

// Tensor names in a face run's weights file. The head's follow PyTorch's
// state_dict names for an nn.Linear called "head".
const (
	tHeadW   = "head.weight"       // [K, 128]
	tHeadB   = "head.bias"         // [K]
	tMean    = "norm.mean"         // [128]
	tStd     = "norm.std"          // [128]
	tCentr   = "centroids"         // [K, 128]
	tTrainX  = "train.descriptors" // [N, 128]
	tTrainY  = "train.labels"      // [N] int64
	tSumN    = "summary.count"     // [K] int64
	tSumMean = "summary.mean"      // [K, 128], omitted when equal to the centroids (no train.descriptors)
	tSumStd  = "summary.std"       // [K, 128]
	mClasses = "starid.classes"    // JSON list: the class order of the head
	mVersion = "starid.pipeline_version"
	mEpochs  = "starid.epoch"
)

// Save writes the model to path atomically. The class list travels in the
// file's metadata so the weights file alone says what its rows mean.
func (m *Model) Save(path, pipelineVersion string, epochs int) error {
	k := len(m.Classes)
	flat := func(rows [][]float32) []float32 {
		out := make([]float32, 0, len(rows)*DescriptorLen)
		for _, r := range rows {
			out = append(out, r...)
		}
		return out
	}
	labels := make([]int64, len(m.Labels))
	for i, l := range m.Labels {
		labels[i] = int64(l)
	}
	ts := []safetensors.Tensor{
		{Name: tHeadW, Shape: []int{k, DescriptorLen}, F32: m.Head.Weight.Value.Data},
		{Name: tHeadB, Shape: []int{k}, F32: m.Head.Bias.Value.Data},
		{Name: tMean, Shape: []int{DescriptorLen}, F32: m.Mean},
		{Name: tStd, Shape: []int{DescriptorLen}, F32: m.Std},
		{Name: tCentr, Shape: []int{k, DescriptorLen}, F32: flat(m.Centroids)},
	}
	if len(labels) > 0 {
		ts = append(ts, safetensors.Tensor{Name: tTrainX, Shape: []int{len(m.Train), DescriptorLen}, F32: flat(m.Train)},
			safetensors.Tensor{Name: tTrainY, Shape: []int{len(labels)}, I64: labels})
	}
	if s := m.Summary; s != nil {
		n := make([]int64, k)
		for c, v := range s.Count {
			n[c] = int64(v)
		}
		ts = append(ts, safetensors.Tensor{Name: tSumN, Shape: []int{k}, I64: n},
			safetensors.Tensor{Name: tSumStd, Shape: []int{k, DescriptorLen}, F32: flat(s.Std)})
		if len(m.Train) > 0 {
			ts = append(ts, safetensors.Tensor{Name: tSumMean, Shape: []int{k, DescriptorLen}, F32: flat(s.Mean)})
		}
	}
	cl, err := json.Marshal(m.Classes)
	if err != nil {
		return err
	}
	meta := map[string]string{"format": "pt", mClasses: string(cl), mVersion: pipelineVersion, mEpochs: strconv.Itoa(epochs)}
	return atomicfile.Write(path, func(w io.Writer) error { return safetensors.Write(w, ts, meta) })
}

// LoadModel reads a model written by Save and checks that every tensor has
// the shape its class list and descriptor length call for.
func LoadModel(path string) (*Model, string, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	return loadModel(f, path)
}

// ReadModel is LoadModel for a file's content b (the built-in model's,
// embedded in the binary); name says where b came from in errors.
func ReadModel(name string, b []byte) (*Model, string, error) {
	f, err := safetensors.Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	return loadModel(f, name)
}

// tensorReader reads a model file's float tensors, checking their shapes
// and values; bad makes an error naming the file.
type tensorReader struct {
	f   *safetensors.File
	bad func(format string, args ...any) error
}

func (r tensorReader) get(name string, shape ...int) ([]float32, error) {
	info, ok := r.f.Info(name)
	if !ok {
		return nil, r.bad("no tensor %s", name)
	}
	if !slices.Equal(info.Shape, shape) {
		return nil, r.bad("%s has shape %v, want %v", name, info.Shape, shape)
	}
	v, err := r.f.Float32(name)
	if err != nil {
		return nil, err
	}
	if !finite(v) {
		return nil, r.bad("%s holds NaN or infinite values", name)
	}
	return v, nil
}

// labels reads an int64 tensor of n values in [0, k): class labels, or
// counts below k.
func (r tensorReader) labels(name string, n, k int) ([]int, error) {
	y, err := r.f.Int64(name)
	if err != nil {
		return nil, r.bad("%v", err)
	}
	if len(y) != n {
		return nil, r.bad("%s has %d values, want %d", name, len(y), n)
	}
	out := make([]int, n)
	for i, v := range y {
		if v < 0 || v >= int64(k) {
			return nil, r.bad("%s[%d] is %d, out of range", name, i, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

func loadModel(f *safetensors.File, path string) (*Model, string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: not a face head: %s", path, fmt.Sprintf(format, args...))
	}
	m := &Model{}
	if err := json.Unmarshal([]byte(f.Metadata[mClasses]), &m.Classes); err != nil || len(m.Classes) == 0 {
		return nil, "", bad("no class list in the metadata")
	}
	if err := runs.CheckClassNames(m.Classes); err != nil {
		return nil, "", bad("%v", err)
	}
	k := len(m.Classes)
	r := tensorReader{f: f, bad: bad}
	get := r.get
	// The weights' shape is checked before the head is made: the class
	// list alone could ask for any size.
	w, err := get(tHeadW, k, DescriptorLen)
	if err != nil {
		return nil, "", err
	}
	m.Head = nn.NewLinear(DescriptorLen, k, true, rand.New(rand.NewPCG(0, 0)))
	m.Head.SetTraining(false)
	b, err := get(tHeadB, k)
	if err != nil {
		return nil, "", err
	}
	copy(m.Head.Weight.Value.Data, w)
	copy(m.Head.Bias.Value.Data, b)
	if m.Mean, err = get(tMean, DescriptorLen); err != nil {
		return nil, "", err
	}
	if m.Std, err = get(tStd, DescriptorLen); err != nil {
		return nil, "", err
	}
	for j, s := range m.Std {
		if !(s > 0) {
			return nil, "", bad("%s[%d] is %v, must be positive", tStd, j, s)
		}
	}
	cen, err := get(tCentr, k, DescriptorLen)
	if err != nil {
		return nil, "", err
	}
	m.Centroids = rows(cen)
	if info, ok := f.Info(tTrainX); ok && len(info.Shape) == 2 {
		x, err := get(tTrainX, info.Shape[0], DescriptorLen)
		if err != nil {
			return nil, "", err
		}
		m.Train = rows(x)
	}
	if len(m.Train) > 0 {
		if m.Labels, err = r.labels(tTrainY, len(m.Train), k); err != nil {
			return nil, "", err
		}
	}
	if m.Summary, err = r.summary(m); err != nil {
		return nil, "", err
	}
	return m, f.Metadata[mVersion], nil
}

// maxSummarized is the most descriptors a Summary may stand for per
// class (a hundred times the tutorial's photos of a person).
const maxSummarized = 10000

// summary reads the model's Summary, if the file has one.
func (r tensorReader) summary(m *Model) (*Summary, error) {
	if _, ok := r.f.Info(tSumN); !ok {
		return nil, nil
	}
	k := len(m.Classes)
	// A refit draws this many descriptors per class: bounded so that a
	// hostile file cannot make enroll allocate without limit.
	n, err := r.labels(tSumN, k, maxSummarized+1)
	if err != nil {
		return nil, err
	}
	s := &Summary{Count: n}
	std, err := r.get(tSumStd, k, DescriptorLen)
	if err != nil {
		return nil, err
	}
	s.Std = rows(std)
	switch _, ok := r.f.Info(tSumMean); {
	case ok:
		mean, err := r.get(tSumMean, k, DescriptorLen)
		if err != nil {
			return nil, err
		}
		s.Mean = rows(mean)
	case len(m.Train) == 0:
		s.Mean = m.Centroids // Save leaves them out: they are the centroids
	default:
		return nil, r.bad("no tensor %s beside %s", tSumMean, tTrainX)
	}
	return s, nil
}

func rows(flat []float32) [][]float32 {
	out := make([][]float32, len(flat)/DescriptorLen)
	for i := range out {
		out[i] = flat[i*DescriptorLen : (i+1)*DescriptorLen : (i+1)*DescriptorLen]
	}
	return out
}
