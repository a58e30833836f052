package train

import (
	"errors"
	"strings"
	"testing"

	"starid/internal/cli"
	"starid/internal/facecrop"
	"starid/internal/runs"
)

func TestFromFlags(t *testing.T) {
	base := DefaultConfig().Settings
	base.Model, base.Out = "vgg16", "run"
	cases := []struct {
		model, crop, exclude string
		given                []string
		want                 string // "" for no error
	}{
		{"vgg16", "none", "", nil, ""},
		{"", "none", "", nil, "--model is required"},
		{"vgg16", "fancy", "", nil, `--crop "fancy"`},
		{"vgg16", "none", "a,b", nil, "--exclude applies to --model face only"},
		{runs.ModelFace, "none", "", []string{"width"}, "--width applies"},
		{runs.ModelFace, "face", "", nil, "--crop face applies to the VGG models"},
		{"vgg16", "none", "", []string{"crop-margin"}, "--crop-margin applies"},
		{"no-such-model", "none", "", nil, "no-such-model"},
	}
	for _, c := range cases {
		s := base
		s.Model = c.model
		_, err := FromFlags(s, "photos", c.crop, c.exclude, c.given)
		if c.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", c, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, new(cli.UsageError)) {
			t.Errorf("%+v: got %v, want a usage error with %q", c, err, c.want)
		}
	}
}

func TestFromFlagsAlignedMargin(t *testing.T) {
	s := DefaultConfig().Settings
	s.Model, s.Out = "vgg16", "run"
	got, err := FromFlags(s, "photos", "aligned", "", nil)
	if err != nil || got.CropMargin != facecrop.DefaultAlignPadding || got.Data != "photos" || got.Crop != facecrop.Aligned {
		t.Errorf("aligned default: %+v, %v", got, err)
	}
	got, err = FromFlags(s, "photos", "aligned", "", []string{"crop-margin"})
	if err != nil || got.CropMargin != s.CropMargin {
		t.Errorf("given margin kept: %v, %v", got.CropMargin, err)
	}
}
