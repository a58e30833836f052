package models

import (
	"math/rand/v2"
	"strings"

	"starid/internal/cli"
	"starid/internal/nn"
)

// Summary is a model's layers, output shapes and parameter counts
// (`starid summary`), with the model's name for the JSON form.
type Summary struct {
	Model string `json:"model"`
	*nn.Summary
}

// Required refuses an empty --model, naming the choices.
func Required(name string) error {
	if name == "" {
		return cli.Usagef("--model is required (one of %s)", strings.Join(Names(), ", "))
	}
	return nil
}

// CheckInput refuses an input no model can take.
func CheckInput(size, batch int) error {
	if size < 1 || batch < 1 {
		return cli.Usagef("--size and --batch must be positive")
	}
	return nil
}

// Summarize builds the named model (channel counts scaled by width) and
// summarises it for a batch x size x size input. A name, class count or
// width that builds no model is a usage error.
func Summarize(name string, classes int, width float64, batch, size int) (*Summary, error) {
	if err := Required(name); err != nil {
		return nil, err
	}
	if err := CheckInput(size, batch); err != nil {
		return nil, err
	}
	spec, err := ByNameWidth(name, classes, width)
	if err != nil {
		return nil, cli.Usagef("%v", err)
	}
	// The weights do not show in a summary; any seed will do.
	net, err := Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return nil, err
	}
	s, err := nn.Summarize(net, []int{batch, spec.InChannels, size, size})
	if err != nil {
		return nil, err
	}
	return &Summary{spec.Name, s}, nil
}
