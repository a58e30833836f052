// Command defaultmodel makes the built-in model (`make default-model`):
// it trains a face run on the tutorial's photos exactly as
// `starid train DIR --model face` does with its defaults, keeps only what
// the binary embeds (no photo, no descriptor of a photo) and writes it
// into internal/recognize/defaultmodel, then prints the written model's
// accuracy on the run's held-out split.
//
//	go run ./scripts/defaultmodel --data ../shared/data/celebrity17 --out internal/recognize/defaultmodel
//
// Descriptors go through starid's descriptor cache ($STARID_CACHE, else
// the user cache folder; --cache DIR), so a second build takes seconds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"

	"starid/internal/faces"
	"starid/internal/identify"
	"starid/internal/recognize/defaultmodel"
	"starid/internal/runs"
)

func main() {
	dataDir := flag.String("data", "../shared/data/celebrity17", "the tutorial's photos, one folder per person")
	out := flag.String("out", "internal/recognize/defaultmodel", "folder to write model.json and best.safetensors into")
	cacheDir := flag.String("cache", "", "descriptor cache root (default $"+identify.EnvCache+", else the user cache folder)")
	flag.Parse()
	if err := run(*dataDir, *out, *cacheDir); err != nil {
		fmt.Fprintln(os.Stderr, "defaultmodel:", err)
		os.Exit(1)
	}
}

func run(dataDir, out, cacheDir string) error {
	dir := identify.CacheDirUnder(cacheDir, faces.PipelineVersion)
	if cacheDir == "" {
		var err error
		if dir, err = identify.DefaultCacheDir(faces.PipelineVersion); err != nil {
			return err
		}
	}
	cache := &identify.Cache{Dir: dir, Version: faces.PipelineVersion}
	d := identify.Lazy(func() (identify.Describer, error) {
		return faces.LoadInstalled()
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := defaultmodel.Build(ctx, dataDir, out, d, cache, runs.Output{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		return err
	}
	h := rep.HeldOut
	fmt.Printf("wrote %s (%d bytes: %d classes, trained on %d photos)\n", out, rep.Bytes, len(rep.Classes), rep.Train)
	fmt.Printf("held-out split, answered by the written model: %d photos, %.1f%% closed set, %.1f%% with the unknown rule (%d answered unknown, %d without a face)\n",
		h.N, 100*h.Closed, 100*h.Open, h.Unknown, h.NoFace)
	var wrong []string
	for k, n := range h.Confusion {
		wrong = append(wrong, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(wrong)
	if len(wrong) > 0 {
		fmt.Printf("wrongly named: %s\n", strings.Join(wrong, ", "))
	}
	return nil
}
