package faces

import (
	"fmt"
	"strings"
)

// DetectorChoice is a user's choice of face detector (the command line's
// --detector): which of the two detectors look at a photo. The zero value
// is AutoDetector.
type DetectorChoice string

const (
	// AutoDetector is the pipeline's default (DefaultSSDUse): the tiny
	// detector, and the SSD too on a photo the tiny one is unsure of and on
	// group photos.
	AutoDetector DetectorChoice = "auto"
	// TinyDetector never runs the SSD: the tiny detector at its sizes, with
	// the small-face and bordered looks. Faster on group photos and
	// thumbnails, and it misses more of their faces.
	TinyDetector DetectorChoice = "tiny"
	// SSDDetector runs the SSD alone, in place of the tiny detector (with
	// the bordered look when it finds nothing): slower on every photo.
	SSDDetector DetectorChoice = "ssd"
)

// DetectorChoices lists the choices, the default first.
var DetectorChoices = []DetectorChoice{AutoDetector, TinyDetector, SSDDetector}

// ParseDetector reads a --detector value; "" is AutoDetector.
func ParseDetector(s string) (DetectorChoice, error) {
	d := DetectorChoice(strings.ToLower(strings.TrimSpace(s)))
	if d == "" {
		return AutoDetector, nil
	}
	for _, c := range DetectorChoices {
		if d == c {
			return d, nil
		}
	}
	return "", fmt.Errorf("unknown face detector %q: want auto, tiny or ssd", s)
}

// SSDUse is the Pipeline.SSDUse the choice stands for.
func (d DetectorChoice) SSDUse() SSDUse {
	switch d {
	case TinyDetector:
		return 0
	case SSDDetector:
		return SSDOnly
	}
	return DefaultSSDUse
}

// Version is PipelineVersion for the pipeline with this detector: the
// faces found, and so the descriptors, differ between detectors, and a
// cache or library described with one must be described again with
// another. The default keeps PipelineVersion itself, so what was
// described before the choice existed stays valid.
func (d DetectorChoice) Version() string {
	if d.SSDUse() == DefaultSSDUse {
		return PipelineVersion
	}
	return PipelineVersion + "+detector=" + string(d)
}

// LoadInstalledWith is LoadInstalled with the detector d.
func LoadInstalledWith(d DetectorChoice) (*Pipeline, error) {
	p, err := LoadInstalled()
	if err != nil {
		return nil, err
	}
	p.SSDUse = d.SSDUse()
	return p, nil
}
