package main

import (
	"strings"

	"github.com/spf13/cobra"

	"starid/internal/models"
)

func init() { addCommand(newSummaryCmd) }

func newSummaryCmd() *cobra.Command {
	var model string
	var classes, size, batch int
	var width float64
	var asJSON bool
	c := command("summary --model NAME", "layers, output shapes and parameter counts of a model", func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		s, err := models.Summarize(model, classes, width, batch, size)
		if err != nil {
			return err
		} else if asJSON {
			return writeJSON(c.OutOrStdout(), s)
		}
		return s.WriteTable(c.OutOrStdout())
	})
	f := c.Flags()
	modelFlag(f, &model)
	f.IntVar(&classes, "classes", 17, "number of output classes")
	f.IntVar(&size, "size", 224, "input height and width in pixels")
	f.Float64Var(&width, "width", 1, "scale every convolution's channel count (as train --width)")
	f.IntVar(&batch, "batch", 1, "batch size shown in the output shapes")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return c
}

// modelNames lists the VGG models for help and error text.
func modelNames() string { return strings.Join(models.Names(), ", ") }
