package models

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// BenchmarkVGGProfile prints the per-layer profile of training steps of
// vgg16-bn (VGG_MODEL, VGG_SIZE, VGG_BATCH change the model, input size
// and batch; 64 and 32 by default) after one warm-up step:
//
//	go test ./internal/models -run '^$' -bench VGGProfile -benchtime 1x
//	STARID_WINOGRAD=off go test ./internal/models -run '^$' -bench VGGProfile -benchtime 1x
func BenchmarkVGGProfile(b *testing.B) {
	model, size, batch := "vgg16-bn", envInt("VGG_SIZE", 64), envInt("VGG_BATCH", 32)
	if m := os.Getenv("VGG_MODEL"); m != "" {
		model = m
	}
	r := rand.New(rand.NewPCG(1, 1))
	net := buildNamed(b, model, r)
	net.NeedInputGrad = false
	net.SetTraining(true)
	x := tensor.New(batch, 3, size, size)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	dy := tensor.New(batch, 17)
	for i := range dy.Data {
		dy.Data[i] = float32(r.NormFloat64()) / float32(batch)
	}
	step := func() {
		if _, err := net.Forward(x); err != nil {
			b.Fatal(err)
		}
		if _, err := net.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
	step()
	var p nn.LayerProfile
	nn.SetProfile(net, &p)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.StopTimer()
	b.Logf("%s %dx%d batch %d, STARID_WINOGRAD=%q", model, size, size, batch, os.Getenv("STARID_WINOGRAD"))
	if err := p.Write(os.Stdout); err != nil {
		b.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
