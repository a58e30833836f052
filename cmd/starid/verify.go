package main

import (
	"github.com/spf13/cobra"

	"starid/internal/library"
)

func init() { addCommand(newVerifyCmd) }

func newVerifyCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify PHOTO_A PHOTO_B",
		Short: "whether two photos show the same person (their main faces)",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("want two photos, got %d", len(args))
			}
			d, _, err := newLibraryDescriber("", library.VerifyMirrored)
			if err != nil {
				return err
			}
			ctx, stop := interruptible()
			defer stop()
			v, err := library.VerifyPhotos(ctx, d, args[0], args[1], 0)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(c.OutOrStdout(), v)
			}
			v.WriteText(c.OutOrStdout())
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, `print {"same": ..., "distance": ..., "threshold": ...}`)
	return c
}
