package main

import (
	"flag"
	"fmt"
	"strings"

	"starid/internal/faces"
)

// The -ssd flag puts the SSD detector into the fixture looks (groups,
// thumbs) to measure where it pays (issue 13, session 7).
var (
	ssdFlag    = flag.String("ssd", "", "SSD detector in the fixture looks (groups, thumbs): comma list of unsure, groups, only; none for no SSD (default: as shipped)")
	ssdMinFlag = flag.Float64("ssdmin", faces.SSDMinScore, "SSD detector threshold in the fixture looks")
	// thumbsFilled: only the thumbnails whose face fills the frame, the
	// ones the detectors miss, at a third of the time.
	thumbsFilled = flag.Bool("filled", false, "thumbs: only the kinds whose face fills the frame")
)

// applySSD sets look's SSD use from the flags, loading the detector from
// modelDir when the pipeline has none.
func applySSD(look *faces.Pipeline, modelDir string) error {
	if *ssdFlag == "" {
		return nil
	}
	var use faces.SSDUse
	for _, w := range strings.Split(*ssdFlag, ",") {
		switch w {
		case "none":
		case "unsure":
			use |= faces.SSDWhenUnsure
		case "groups":
			use |= faces.SSDForGroups
		case "only":
			use |= faces.SSDOnly
		default:
			return fmt.Errorf("-ssd %q: want a comma list of unsure, groups, only, or none", *ssdFlag)
		}
	}
	if use != 0 && look.SSD == nil {
		s, err := faces.LoadSSD(modelDir)
		if err != nil {
			return err
		}
		look.SSD = s
	}
	look.SSDUse, look.SSDMinScore = use, *ssdMinFlag
	fmt.Printf("fixture looks: SSD use %q at %.2f\n", *ssdFlag, *ssdMinFlag)
	return nil
}
