// Command facecv measures the face pipeline of issue 13 on a folder of
// photos, one sub-folder per person (celebrity17): 5-fold cross-validation
// with the unknown rule, strangers left out by triples with a DET curve,
// face thumbnails, collages of several people, and perturbed photos. Each
// pipeline variant describes the photos once into its own descriptor
// cache, so reruns only train heads.
//
//	go run ./scripts/experiments/facecv -data ../shared/data/celebrity17 -out /tmp/facecv cv strangers
//
// Nothing it makes is committed: the fixtures are cut from real photos.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/identify"
)

type env struct {
	ctx  context.Context
	data *data.Dataset
	pipe *faces.Pipeline // as shipped: it fills the descriptor caches
	// look finds faces in made-up photos (fixtures): the shipped pipeline
	// with -border.
	look    *faces.Pipeline
	out     string
	cache   string // descriptor cache root
	variant string
	seed    uint64
	frr     float64
	choose  string
	// trainPick and testPick: how training and answered photos with
	// several faces pick theirs (main: the -main rule; nearest: the face
	// nearest its person's centroid; recog: the face the model is surest of).
	trainPick, testPick string
}

func main() {
	dataDir := flag.String("data", "../shared/data/celebrity17", "photos, one folder per person")
	out := flag.String("out", "/tmp/facecv", "folder for pictures and fixtures")
	cache := flag.String("cache", "", "descriptor cache root (default: starid's)")
	variant := flag.String("variant", "base", "pipeline variant: "+strings.Join(variantNames(), ", "))
	seed := flag.Uint64("seed", 1, "seed of the folds and the stranger triples")
	frr := flag.Float64("frr", identify.DefaultTargetFRR, "target false rejection of the calibrated rule")
	choose := flag.String("main", "rule", "main face of a photo: rule (faces.MainFace), largest, score")
	flag.StringVar(&trainPick, "trainpick", "main", "training photos with several faces: main or nearest (to the person's centroid)")
	flag.StringVar(&testPick, "testpick", "recog", "answered photos with several faces: recog (identify.IdentifyPhoto: the face the model is surest of) or main")
	augList := flag.String("aug", "", "augmentations of the training faces (comma-separated names of identify.DefaultAugmentations; blur: all blurs; all: every one)")
	flag.StringVar(&augCal, "augcal", "orig", "calibration with -aug: plain (photos as taken only), orig (photos as taken against centroids with the copies), all")
	flag.BoolVar(&verbose, "v", false, "list every photo not named right")
	border := flag.Float64("border", faces.BorderRetry, "grey border of the second look at a photo without faces (0: none)")
	small := flag.Float64("small", faces.SmallFaceShare, "second look at photos whose faces are all smaller than this share of the longer side (0: none)")
	mfnScale := flag.String("mfnscale", "127.5/128", "fusion: MobileFaceNet input (pixel-mean)/div as mean/div")
	mfScale := flag.String("mfscale", "0/1", "fusion: MobileFace input as mean/div")
	flag.BoolVar(&secondBGR, "bgr", false, "fusion: feed the second nets blue, green, red")
	flag.Float64Var(&secondPad, "secondpad", -1, "fusion: align the second nets' chips to dlib's geometry with this padding (-1: the ArcFace template)")
	flag.StringVar(&normFlag, "norm", "none", "descriptor normalisation before the head and the unknown rule: "+strings.Join(normNames(), ", "))
	flag.Parse()
	for i, s := range []string{*mfnScale, *mfScale} {
		if _, err := fmt.Sscanf(s, "%g/%g", &secondScale[i][0], &secondScale[i][1]); err != nil || secondScale[i][1] == 0 {
			fmt.Fprintf(os.Stderr, "facecv: input scale %q: want mean/div with div not 0\n", s)
			os.Exit(2)
		}
	}
	borderFlag, smallFlag = *border, *small
	augNames = parseAug(*augList)
	if err := run(*dataDir, *out, *cache, *variant, *seed, *frr, *choose, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "facecv:", err)
		os.Exit(1)
	}
}

var (
	verbose    bool
	augNames   []string
	augCal     string
	trainPick  string
	testPick   string
	borderFlag float64
	smallFlag  float64
)

func run(dataDir, out, cache, variant string, seed uint64, frr float64, choose string, what []string) error {
	dir, err := faces.ModelDir()
	if err != nil {
		return err
	}
	pipe, err := faces.LoadPipeline(dir)
	if err != nil {
		return err
	}
	ds, err := data.Scan(dataDir, data.ScanOptions{})
	if err != nil {
		return err
	}
	if cache == "" {
		if cache, err = identify.DefaultCacheDir(""); err != nil {
			return err
		}
		cache = filepath.Dir(cache)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	look := *pipe
	look.Border, look.SmallFaces = borderFlag, smallFlag
	if err := applySSD(&look, dir); err != nil {
		return err
	}
	e := &env{look: &look, ctx: context.Background(), data: ds, pipe: pipe, out: out, cache: cache,
		variant: variant, seed: seed, frr: frr, choose: choose, trainPick: trainPick, testPick: testPick}
	if len(what) == 0 {
		what = []string{"cv"}
	}
	for _, w := range what {
		var err error
		switch w {
		case "cv":
			err = e.crossValidate()
		case "strangers":
			err = e.strangers()
		case "thumbs":
			err = e.thumbnails()
		case "groups":
			err = e.groups(dir)
		case "diag":
			return e.diag(what[1:])
		case "scores":
			err = e.scores()
		case "robust":
			err = e.robustness()
		case "fusion":
			err = e.fusion()
		case "lengths":
			err = e.lengths()
		default:
			err = fmt.Errorf("unknown measurement %q: want cv, strangers, thumbs, groups, robust, fusion or lengths", w)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
	}
	return nil
}

func parseAug(list string) []string {
	if list == "all" {
		var out []string
		for _, a := range identify.DefaultAugmentations() {
			out = append(out, a.Name)
		}
		return out
	}
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
