package runs

import "testing"

func TestImprovesAndBestRecord(t *testing.T) {
	rec := func(e int, acc, loss float64) EpochRecord { return EpochRecord{Epoch: e, TestAcc: acc, TestLoss: loss} }
	for _, c := range []struct {
		r, best EpochRecord
		want    bool
	}{
		{rec(2, 0.9, 1), rec(1, 0.8, 0.1), true},    // higher accuracy wins whatever the loss
		{rec(2, 0.8, 0.1), rec(1, 0.9, 1), false},   // lower accuracy loses whatever the loss
		{rec(2, 0.9, 0.4), rec(1, 0.9, 0.5), true},  // a tie goes to the lower loss
		{rec(2, 0.9, 0.5), rec(1, 0.9, 0.5), false}, // a full tie keeps the earlier epoch
		{rec(2, 0.9, 0.6), rec(1, 0.9, 0.5), false},
	} {
		if got := c.r.Improves(&c.best); got != c.want {
			t.Errorf("%+v improves on %+v = %v, want %v", c.r, c.best, got, c.want)
		}
	}
	if !rec(1, 0, 9).Improves(nil) {
		t.Error("the first epoch does not count as the best")
	}
	h := []EpochRecord{rec(1, 0.5, 1), rec(2, 0.9, 1), rec(3, 0.8, 1)}
	h[0].Best, h[1].Best = true, true
	if b := BestRecord(h); b == nil || b.Epoch != 2 {
		t.Errorf("BestRecord = %+v, want epoch 2", b)
	}
	if BestRecord(nil) != nil || BestNote(nil) != "no epoch finished" {
		t.Error("an empty history has a best epoch")
	}
}

func TestSeconds(t *testing.T) {
	for ms, want := range map[int64]string{12345: "12.3 s", 1000: "1.0 s", 999: "0.999 s", 7: "0.007 s", 0: "0.000 s"} {
		if got := Seconds(ms); got != want {
			t.Errorf("Seconds(%d) = %q, want %q", ms, got, want)
		}
	}
}

func TestCurvesTitle(t *testing.T) {
	h := []EpochRecord{{Epoch: 1, TestAcc: 0.5, Best: true}, {Epoch: 2, TestAcc: 0.75, Best: true}, {Epoch: 3, TestAcc: 0.7}}
	if got, want := CurvesTitle("runs/light64", "vgg16-bn", KeepBest, h), "light64 (vgg16-bn): best epoch 2 of 3, test accuracy 75.0%"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	h = []EpochRecord{{Epoch: 1, TestAcc: 0.8}, {Epoch: 2, TestAcc: 0.7, Best: true}}
	if got, want := CurvesTitle("runs/f", "face", KeepLast, h), "f (face): kept the last epoch, 2 of 2, test accuracy 70.0%"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if got := CurvesTitle("runs/x/", "face", KeepLast, nil); got != "x (face)" {
		t.Errorf("title without epochs %q", got)
	}
}
