package main

import (
	"github.com/spf13/cobra"

	"starid/internal/bench"
)

// commit is set by `make build` (-ldflags -X main.commit=...) for builds
// whose build info carries no version-control stamp (-buildvcs=false,
// builds outside a checkout).
var commit string

func init() { addCommand(newVersionCmd) }

func newVersionCmd() *cobra.Command {
	var asJSON bool
	c := command("version", "version, commit, GEMM kernels, CPU and face model versions of this binary", func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("version takes no arguments")
		}
		v := bench.About(commit)
		if asJSON {
			return writeJSON(c.OutOrStdout(), v)
		}
		return v.WriteText(c.OutOrStdout())
	})
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
