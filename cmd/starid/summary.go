package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"

	"starid/internal/models"
	"starid/internal/nn"
)

func init() {
	register("summary", "layers, output shapes and parameter counts of a model", runSummary)
}

func runSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", "summary --model NAME [--classes 17] [--size 224] [--width 1] [--batch 1] [--json]", stderr)
	model := fs.String("model", "", "model name: "+joinNames(models.Names()))
	classes := fs.Int("classes", 17, "number of output classes")
	size := fs.Int("size", 224, "input height and width in pixels")
	width := fs.Float64("width", 1, "scale every convolution's channel count (as train --width)")
	batch := fs.Int("batch", 1, "batch size shown in the output shapes")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *model == "" {
		return usagef("--model is required (one of %s)", joinNames(models.Names()))
	}
	if *size < 1 || *batch < 1 {
		return usagef("--size and --batch must be positive")
	}
	spec, err := models.ByNameWidth(*model, *classes, *width)
	if err != nil {
		return usagef("%v", err)
	}
	net, err := models.Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return err
	}
	s, err := nn.Summarize(net, []int{*batch, spec.InChannels, *size, *size})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Model string `json:"model"`
			*nn.Summary
		}{spec.Name, s})
	}
	return s.WriteTable(stdout)
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
