package identify

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
)

// HeadConfig says how the linear head is trained.
type HeadConfig struct {
	Epochs      int
	Batch       int
	Optimizer   string // adam, adamw or sgd
	LR          float64
	Momentum    float64 // sgd only
	WeightDecay float64
	Schedule    optim.Schedule // nil: constant
	Seed        uint64
}

// EpochStats is what fitHead reports after each epoch.
type EpochStats struct {
	Epoch     int // 1-based
	TrainLoss float64
	TrainAcc  float64
	LR        float64 // the rate the next epoch uses, as the tutorial prints
}

// standardization returns the per-dimension mean and standard deviation
// of x; a dimension that does not vary gets std 1, so it passes through.
func standardization(x [][]float32) (mean, std []float32) {
	mean, std = make([]float32, DescriptorLen), make([]float32, DescriptorLen)
	n := float64(len(x))
	for j := range DescriptorLen {
		var s, ss float64
		for _, v := range x {
			s += float64(v[j])
		}
		mu := s / n
		for _, v := range x {
			d := float64(v[j]) - mu
			ss += d * d
		}
		sd := math.Sqrt(ss / n)
		if !(sd > 1e-6) {
			sd = 1
		}
		mean[j], std[j] = float32(mu), float32(sd)
	}
	return mean, std
}

// Fit trains a model on raw descriptors x with labels y over the given
// classes: standardization, centroids and a linear softmax head trained
// by cross-entropy with the configured optimizer, mini-batches drawn in a
// seeded order. onEpoch, when not nil, sees the head after every epoch and
// may stop the training with an error.
func Fit(ctx context.Context, classes []string, x [][]float32, y []int, cfg HeadConfig,
	onEpoch func(m *Model, s EpochStats) error) (*Model, error) {
	k := len(classes)
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("identify: %d descriptors and %d labels", len(x), len(y))
	}
	if cfg.Epochs < 1 || cfg.Batch < 1 {
		return nil, fmt.Errorf("identify: epochs %d and batch %d must be at least 1", cfg.Epochs, cfg.Batch)
	}
	m := &Model{Classes: slices.Clone(classes), Train: x, Labels: y, Centroids: centroids(x, y, k)}
	m.Mean, m.Std = standardization(x)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x68656164)) // "head"
	m.Head = nn.NewLinear(DescriptorLen, k, true, rng)
	m.Head.SetNeedInputGrad(false)
	params := m.Head.Params()
	var opt optim.Optimizer
	switch cfg.Optimizer {
	case "adam", "":
		opt = optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	case "adamw":
		opt = optim.NewAdamW(params, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	case "sgd":
		opt = optim.NewSGD(params, optim.SGDConfig{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay})
	default:
		return nil, fmt.Errorf("identify: optimizer %q: want adam, adamw or sgd", cfg.Optimizer)
	}
	sched := cfg.Schedule
	if sched == nil {
		sched = optim.Constant{}
	}
	// Standardize once; batches gather rows from here.
	xs := make([]float32, len(x)*DescriptorLen)
	for i, v := range x {
		m.standardize(xs[i*DescriptorLen:(i+1)*DescriptorLen], v)
	}
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	bx := tensor.New(min(cfg.Batch, len(x)), DescriptorLen)
	labels := make([]int, 0, min(cfg.Batch, len(x)))
	for e := range cfg.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		opt.SetLR(sched.LR(cfg.LR, e))
		erng := rand.New(rand.NewPCG(cfg.Seed, uint64(e)+1))
		erng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		m.Head.SetTraining(true)
		var lossSum float64
		var correct, batches int
		for lo := 0; lo < len(order); lo += cfg.Batch {
			idx := order[lo:min(lo+cfg.Batch, len(order))]
			xb := tensor.Reuse(bx, len(idx), DescriptorLen)
			labels = labels[:0]
			for r, i := range idx {
				copy(xb.Data[r*DescriptorLen:(r+1)*DescriptorLen], xs[i*DescriptorLen:(i+1)*DescriptorLen])
				labels = append(labels, y[i])
			}
			opt.ZeroGrad()
			logits, err := m.Head.Forward(xb)
			if err != nil {
				return nil, err
			}
			loss, dl, err := nn.CrossEntropy(logits, labels)
			if err != nil {
				return nil, err
			}
			for r, l := range labels {
				row := logits.Data[r*k : (r+1)*k]
				if argmax(row) == l {
					correct++
				}
			}
			if _, err := m.Head.Backward(dl); err != nil {
				return nil, err
			}
			if err := opt.Step(); err != nil {
				return nil, err
			}
			lossSum += loss
			batches++
		}
		m.Head.SetTraining(false)
		if onEpoch != nil {
			s := EpochStats{Epoch: e + 1, TrainLoss: lossSum / float64(batches),
				TrainAcc: float64(correct) / float64(len(x)), LR: sched.LR(cfg.LR, e+1)}
			if err := onEpoch(m, s); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func argmax(row []float32) int {
	b := 0
	for j, v := range row {
		if v > row[b] {
			b = j
		}
	}
	return b
}

// Calibration is how the unknown rule was chosen.
type Calibration struct {
	Method string `json:"method"`
	// Samples is the number of training descriptors the rule was
	// calibrated on (those of classes with at least two).
	Samples int `json:"samples"`
	// TargetFalseRejection is the share of known people the rule was
	// allowed to reject; FalseRejection what it rejects of Samples.
	TargetFalseRejection float64 `json:"target_false_rejection"`
	FalseRejection       float64 `json:"false_rejection"`
	// DistanceMedian is the median leave-one-out distance of a known face
	// to its own centroid (how tight the classes are).
	DistanceMedian float64 `json:"distance_median"`
}

// DefaultRule is used when there is too little data to calibrate: dlib's
// customary same-person distance.
var DefaultRule = Rule{MaxDistance: 0.6}

// calibrationFolds is the number of folds of the out-of-fold probabilities.
const calibrationFolds = 5

// Calibrate chooses the unknown rule from training descriptors only, so
// that about targetFRR of known faces are rejected:
//
//   - distance: each descriptor's distance to its own class's centroid
//     computed without it (leave-one-out, exact and cheap), which is what a
//     new photo of a known person meets; MaxDistance is set so that at most
//     3/4 of the budget of these distances lie above it;
//   - probability: the head's top probability on descriptors it was not
//     trained on (a head fitted on the other folds of a stratified k-fold
//     split); MinProbability rejects at most 1/4 of the budget.
//
// The two rejected sets may overlap, so the measured FalseRejection is at
// most targetFRR. Classes with a single descriptor take no part (there is
// no leave-one-out centroid); with fewer than ten usable descriptors the
// DefaultRule is returned.
func Calibrate(ctx context.Context, classes []string, x [][]float32, y []int, cfg HeadConfig, targetFRR float64) (Rule, Calibration, error) {
	k := len(classes)
	cal := Calibration{Method: "leave-one-out centroid distance + out-of-fold head probability", TargetFalseRejection: targetFRR}
	n := make([]int, k)
	for _, l := range y {
		n[l]++
	}
	cen := centroids(x, y, k)
	var use []int
	var dist []float64
	for i, v := range x {
		c := y[i]
		if n[c] < 2 {
			continue
		}
		loo := make([]float32, DescriptorLen)
		for j := range loo {
			loo[j] = float32((float64(cen[c][j])*float64(n[c]) - float64(v[j])) / float64(n[c]-1))
		}
		use = append(use, i)
		dist = append(dist, distance(v, loo))
	}
	cal.Samples = len(use)
	if len(use) < 10 {
		cal.Method = "default (too few descriptors to calibrate)"
		return DefaultRule, cal, nil
	}
	// Out-of-fold probabilities: fold = position in a seeded per-class
	// shuffle, modulo the fold count, so every fold has every class.
	fold := make([]int, len(x))
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x63616c)) // "cal"
	byClass := make([][]int, k)
	for i, l := range y {
		byClass[l] = append(byClass[l], i)
	}
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
		for r, i := range idx {
			fold[i] = r % calibrationFolds
		}
	}
	prob := make([]float64, len(x))
	for f := range calibrationFolds {
		var tx [][]float32
		var ty []int
		for i := range x {
			if fold[i] != f {
				tx, ty = append(tx, x[i]), append(ty, y[i])
			}
		}
		if len(tx) == 0 {
			continue
		}
		m, err := Fit(ctx, classes, tx, ty, cfg, nil)
		if err != nil {
			return Rule{}, cal, err
		}
		for i := range x {
			if fold[i] == f {
				prob[i] = m.Identify(x[i], Rule{MaxDistance: math.Inf(1)}, 1).Probability
			}
		}
	}
	probs := make([]float64, len(use))
	for r, i := range use {
		probs[r] = prob[i]
	}
	sorted := slices.Sorted(slices.Values(dist))
	cal.DistanceMedian = sorted[len(sorted)/2]
	allowD := int(math.Floor(0.75 * targetFRR * float64(len(use))))
	allowP := int(math.Floor(0.25 * targetFRR * float64(len(use))))
	rule := Rule{MaxDistance: sorted[len(sorted)-1-allowD]}
	ps := slices.Sorted(slices.Values(probs))
	if allowP > 0 {
		// Reject strictly below the (allowP+1)-th smallest probability.
		rule.MinProbability = ps[allowP]
	}
	rejected := 0
	for r := range use {
		if dist[r] > rule.MaxDistance || probs[r] < rule.MinProbability {
			rejected++
		}
	}
	cal.FalseRejection = float64(rejected) / float64(len(use))
	return rule, cal, nil
}
