package faces

import (
	"fmt"
	"math"

	"starid/internal/tensor"
)

// SSDRaw is the SSD detector's output for every prior box before
// thresholds and NMS: Boxes holds ymin, xmin, ymax, xmax per prior,
// relative to the padded input square (face-api's order), Scores the face
// probability. It is what the golden tests compare with TF.js.
type SSDRaw struct {
	Boxes  [][4]float64
	Scores []float64
}

// Raw runs the network on img and decodes every prior.
func (s *SSD) Raw(img *Image) (*SSDRaw, error) {
	if err := checkImage(img); err != nil {
		return nil, fmt.Errorf("SSD detector: %w", err)
	}
	net := s.nets.acquire()
	defer s.nets.release(net)
	net.in = img.NetInput(net.in, SSDSize, false, [3]float32{127.5, 127.5, 127.5}, 127.5)
	maps, err := net.forward()
	if err != nil {
		return nil, fmt.Errorf("SSD detector: %w", err)
	}
	raw := &SSDRaw{Boxes: make([][4]float64, 0, ssdPriors), Scores: make([]float64, 0, ssdPriors)}
	for i, m := range maps {
		raw.add(m, ssdAnchors[i], s.priors)
	}
	if len(raw.Scores) != ssdPriors {
		return nil, fmt.Errorf("SSD detector: %d predictions for %d prior boxes", len(raw.Scores), ssdPriors)
	}
	return raw, nil
}

// forward runs the stages and returns the six predictor outputs, [1,
// anchors*7, H, W] each: per anchor 4 box channels, then per anchor 3
// class channels.
func (n *ssdNet) forward() ([6]*tensor.Tensor, error) {
	var maps [6]*tensor.Tensor
	low, err := n.low.Forward(n.in)
	if err != nil {
		return maps, err
	}
	feat := low
	if maps[0], err = n.pred[0].Forward(low); err != nil {
		return maps, err
	}
	if feat, err = n.high.Forward(feat); err != nil {
		return maps, err
	}
	if maps[1], err = n.pred[1].Forward(feat); err != nil {
		return maps, err
	}
	for i, stage := range n.extra {
		if feat, err = stage.Forward(feat); err != nil {
			return maps, err
		}
		if maps[i+2], err = n.pred[i+2].Forward(feat); err != nil {
			return maps, err
		}
	}
	return maps, nil
}

// add decodes one predictor map against the next priors, in TF's order
// (cell by cell in rows, anchors within a cell): face-api's
// decodeBoxesLayer and the sigmoid of the second class logit.
func (r *SSDRaw) add(m *tensor.Tensor, anchors int, priors []float64) {
	h, w := m.Shape[2], m.Shape[3]
	plane := h * w
	at := func(ch, cell int) float64 { return float64(m.Data[ch*plane+cell]) }
	for cell := range plane {
		for a := range anchors {
			p := priors[4*len(r.Scores):]
			sy, sx := p[2]-p[0], p[3]-p[1]
			cy, cx := p[0]+sy/2, p[1]+sx/2
			ty, tx := at(4*a, cell), at(4*a+1, cell)
			th, tw := at(4*a+2, cell), at(4*a+3, cell)
			y, x := ty/10*sy+cy, tx/10*sx+cx
			hh, hw := math.Exp(th/5)*sy/2, math.Exp(tw/5)*sx/2
			r.Boxes = append(r.Boxes, [4]float64{y - hh, x - hw, y + hh, x + hw})
			r.Scores = append(r.Scores, sigmoid(at(4*anchors+3*a+1, cell)))
		}
	}
}

// Detect finds the faces in img: every prior whose score exceeds minScore,
// after NMS at SSDIoU (at most 100), best first, in image pixels. As in
// face-api, NMS compares the boxes on the input square and a kept box is
// then cut to that square, so it may reach into the padding past the
// photo's bottom or right edge.
func (s *SSD) Detect(img *Image, minScore float64) ([]Detection, error) {
	raw, err := s.Raw(img)
	if err != nil {
		return nil, err
	}
	return raw.Detections(img.W, img.H, minScore), nil
}

// Detections applies face-api's locateFaces to raw output for a w x h
// photo.
func (r *SSDRaw) Detections(w, h int, minScore float64) []Detection {
	var cands []Detection
	for i, sc := range r.Scores {
		if !(sc > minScore) {
			continue
		}
		b := r.Boxes[i]
		cands = append(cands, Detection{Box: Box{X: b[1], Y: b[0], W: b[3] - b[1], H: b[2] - b[0]}, Score: sc, Size: SSDSize})
	}
	kept := NMS(cands, SSDIoU)
	if len(kept) > ssdMaxResults {
		kept = kept[:ssdMaxResults]
	}
	// The net saw the photo scaled to the rounded size rw x rh in the
	// top-left of the square; face-api maps through that rounded size.
	scale := float64(SSDSize) / float64(max(w, h))
	rw, rh := max(1, math.Round(float64(w)*scale)), max(1, math.Round(float64(h)*scale))
	fx, fy := float64(SSDSize)/rw*float64(w), float64(SSDSize)/rh*float64(h)
	for i, d := range kept {
		x0, y0 := max(0, d.Box.X), max(0, d.Box.Y)
		x1, y1 := min(1, d.Box.Right()), min(1, d.Box.Bottom())
		kept[i].Box = Box{X: x0 * fx, Y: y0 * fy, W: (x1 - x0) * fx, H: (y1 - y0) * fy}
	}
	return kept
}
