package train

import (
	"slices"
	"strings"

	"starid/internal/cli"
	"starid/internal/facecrop"
	"starid/internal/models"
	"starid/internal/runs"
)

// FromFlags completes the settings `starid train` gathered from its flags
// (given lists the flags set on the command line) with the data folder and
// crop mode. It refuses flag combinations that mean nothing, and VGG
// settings CheckConfig refuses, as cli usage errors.
func FromFlags(s runs.Settings, data, crop, exclude string, given []string) (runs.Settings, error) {
	s.Data, s.Crop, s.Given = data, facecrop.Mode(crop), given
	if err := checkFlags(s, crop, exclude); err != nil {
		return s, err
	}
	// The two crops' margins mean different things, so each has its own
	// default; a resumed run keeps its own unless the flag is given.
	if s.Crop == facecrop.Aligned && !slices.Contains(given, "crop-margin") {
		s.CropMargin = facecrop.DefaultAlignPadding
	}
	if s.Model != runs.ModelFace {
		if err := CheckConfig(Config{Settings: s}); err != nil {
			return s, cli.Usagef("%v", err)
		}
	}
	return s, nil
}

func checkFlags(s runs.Settings, crop, exclude string) error {
	face := s.Model == runs.ModelFace
	_, cropErr := facecrop.ParseMode(crop)
	switch {
	case s.Out == "":
		return cli.Usagef("--out is required")
	case s.Model == "":
		return cli.Usagef("--model is required (one of %s, or face)", strings.Join(models.Names(), ", "))
	case cropErr != nil || crop == "":
		return cli.Usagef("--crop %q: want face, aligned or none", crop)
	case !cli.OneOf(s.Optimizer, "adam", "adamw", "sgd"):
		return cli.Usagef("--optimizer %q: want adam, adamw or sgd", s.Optimizer)
	case !face && exclude != "":
		return cli.Usagef("--exclude applies to --model face only")
	case face && slices.Contains(s.Given, "width"):
		return cli.Usagef("--width applies to the VGG models only")
	case face && crop != "none":
		return cli.Usagef("--crop %s applies to the VGG models: --model face always finds and aligns the faces itself", crop)
	// A resumed run takes its crop from model.json, so only an explicit
	// --crop none makes --crop-margin meaningless.
	case slices.Contains(s.Given, "crop-margin") && (face || (!s.Crop.FindsFaces() && !s.Resume)):
		return cli.Usagef("--crop-margin applies to --crop face and --crop aligned only")
	}
	return nil
}
