package library

import (
	"math"
	"math/rand/v2"
	"testing"
)

// faceLandmarks is 68 points with the outer eye corners at (40, 50) and
// (80, 50) and the nose tip noseDX right of their midpoint.
func faceLandmarks(noseDX float32) [][2]float32 {
	pts := make([][2]float32, LandmarkCount)
	for i := range pts {
		pts[i] = [2]float32{60, 70}
	}
	pts[36], pts[45], pts[30] = [2]float32{40, 50}, [2]float32{80, 50}, [2]float32{60 + noseDX, 70}
	return pts
}

func TestConditionOf(t *testing.T) {
	for _, c := range []struct {
		f   Face
		yaw float64
	}{
		{Face{Landmarks: faceLandmarks(0), Box: [4]float64{0, 0, 100, 120}, Score: 0.9}, 0},
		{Face{Landmarks: faceLandmarks(-12), Box: [4]float64{0, 0, 100, 120}, Score: 0.9}, 0.3},
		{Face{Box: [4]float64{0, 0, 100, 120}, Score: 0.9}, 0},
	} {
		got := ConditionOf(c.f)
		if math.Abs(got.Yaw-c.yaw) > 1e-6 || got.Score != 0.9 || math.Abs(got.Side-math.Log(100)) > 1e-9 {
			t.Errorf("%v: %+v, want yaw %g", c.f.Landmarks != nil, got, c.yaw)
		}
	}
}

// Turned faces are farther from their own person's other photos: the
// fitted rule must give their pairs a looser threshold than frontal pairs,
// and decide both kinds better than one threshold can.
func TestFitVerifyRuleLoosensForTurnedFaces(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	frontal := FaceCondition{Yaw: 0.02, Score: 0.95, Side: 5}
	turned := FaceCondition{Yaw: 0.35, Score: 0.95, Side: 5}
	var ps []VerifyPair
	for i := range 4000 {
		c, shift := frontal, 0.0
		if i%2 == 1 {
			c, shift = turned, 0.2
		}
		same := i%4 < 2
		d := 0.8 + shift + r.NormFloat64()*0.05
		if same {
			d = 0.45 + shift + r.NormFloat64()*0.05
		}
		ps = append(ps, VerifyPair{Distance: d, A: c, B: frontal, Same: same})
	}
	rule, err := FitVerifyRule(ps)
	if err != nil {
		t.Fatal(err)
	}
	tf, tt := rule.Threshold(frontal, frontal), rule.Threshold(turned, frontal)
	if !(tf > 0.5 && tf < 0.75 && tt > tf+0.1 && tt < 0.95) {
		t.Fatalf("thresholds frontal %.3f, turned %.3f (rule %+v)", tf, tt, rule)
	}
	if tf < rule.Lo || tt > rule.Hi {
		t.Errorf("thresholds %.3f, %.3f outside [%.3f, %.3f]", tf, tt, rule.Lo, rule.Hi)
	}
	wrong := 0
	for _, p := range ps {
		if (p.Distance <= rule.Threshold(p.A, p.B)) != p.Same {
			wrong++
		}
	}
	if wrong > len(ps)/50 {
		t.Errorf("%d of %d pairs wrong", wrong, len(ps))
	}
}

func TestFitVerifyRuleNeedsBothKinds(t *testing.T) {
	if _, err := FitVerifyRule([]VerifyPair{{Distance: 0.3, Same: true}, {Distance: 0.4, Same: true}}); err == nil {
		t.Error("no error for same pairs only")
	}
}

func TestBalancedThreshold(t *testing.T) {
	// Many different pairs: balanced accuracy, not the share right, picks
	// the threshold that keeps the lone far same pair.
	scores := []float64{0.1, 0.2, 0.5, 0.6, 0.65, 0.7, 0.8, 0.9}
	same := []bool{true, true, false, true, false, false, false, false}
	if got := BalancedThreshold(scores, same); got != 0.625 {
		t.Errorf("threshold %g, want 0.625", got)
	}
}
