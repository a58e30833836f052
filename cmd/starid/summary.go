package main

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/models"
	"starid/internal/nn"
)

func init() { addCommand(newSummaryCmd) }

type summaryOptions struct {
	model                string
	classes, size, batch int
	width                float64
	json                 bool
}

func newSummaryCmd() *cobra.Command {
	var o summaryOptions
	c := &cobra.Command{
		Use:   "summary --model NAME",
		Short: "layers, output shapes and parameter counts of a model",
		RunE:  func(c *cobra.Command, args []string) error { return o.run(args, c.OutOrStdout()) },
	}
	f := c.Flags()
	modelFlag(f, &o.model)
	f.IntVar(&o.classes, "classes", 17, "number of output classes")
	f.IntVar(&o.size, "size", 224, "input height and width in pixels")
	f.Float64Var(&o.width, "width", 1, "scale every convolution's channel count (as train --width)")
	f.IntVar(&o.batch, "batch", 1, "batch size shown in the output shapes")
	f.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	return c
}

func (o *summaryOptions) run(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	if o.model == "" {
		return usagef("--model is required (one of %s)", modelNames())
	}
	if o.size < 1 || o.batch < 1 {
		return usagef("--size and --batch must be positive")
	}
	spec, err := models.ByNameWidth(o.model, o.classes, o.width)
	if err != nil {
		return usagef("%v", err)
	}
	net, err := models.Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return err
	}
	s, err := nn.Summarize(net, []int{o.batch, spec.InChannels, o.size, o.size})
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(stdout, struct {
			Model string `json:"model"`
			*nn.Summary
		}{spec.Name, s})
	}
	return s.WriteTable(stdout)
}

// modelNames lists the VGG models for help and error text.
func modelNames() string { return strings.Join(models.Names(), ", ") }

// writeJSON prints v indented, the form of every --json output.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
