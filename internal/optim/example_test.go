package optim_test

import (
	"fmt"

	"starid/internal/nn"
	"starid/internal/optim"
)

// Adam minimizing f(w) = Σ(w_i - 3)², with the learning rate halved every
// 100 steps the way the training loop applies a schedule once per epoch
// (here one "epoch" is 100 steps).
func ExampleNewAdam() {
	w := nn.NewParam("weight", 2)
	w.EnsureGrad() // a layer's Backward does this on first use
	w.Value.Data[0], w.Value.Data[1] = 0, 10
	opt := optim.NewAdam([]*nn.Param{w}, optim.AdamConfig{LR: 0.1}) // betas 0.9, 0.999, eps 1e-8
	sched, err := optim.ParseSchedule("step:0.5:1")
	if err != nil {
		fmt.Println(err)
		return
	}
	for epoch := 0; epoch < 5; epoch++ {
		opt.SetLR(sched.LR(0.1, epoch))
		for step := 0; step < 100; step++ {
			opt.ZeroGrad()
			for i, v := range w.Value.Data {
				w.Grad.Data[i] = 2 * (v - 3) // df/dw
			}
			if err := opt.Step(); err != nil {
				fmt.Println(err)
				return
			}
		}
	}
	fmt.Printf("w = [%.3f %.3f], lr %g, %d state tensors\n",
		w.Value.Data[0], w.Value.Data[1], opt.LR(), len(opt.State()))
	// Output:
	// w = [3.000 3.004], lr 0.00625, 4 state tensors
}
