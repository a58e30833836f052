package faces

import (
	"strings"
	"testing"
)

// TestDetectorChoice: each --detector value stands for its SSDUse, the
// default keeps PipelineVersion (libraries described before the choice
// existed stay valid), the others name themselves in the version, and
// anything else is refused naming the choices.
func TestDetectorChoice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want DetectorChoice
		use  SSDUse
	}{{"", AutoDetector, DefaultSSDUse}, {"auto", AutoDetector, DefaultSSDUse}, {" TINY ", TinyDetector, 0}, {"ssd", SSDDetector, SSDOnly}} {
		d, err := ParseDetector(c.in)
		if err != nil || d != c.want || d.SSDUse() != c.use {
			t.Errorf("ParseDetector(%q) = %q (SSDUse %b), %v; want %q (%b)", c.in, d, d.SSDUse(), err, c.want, c.use)
		}
	}
	if AutoDetector.Version() != PipelineVersion || DetectorChoice("").Version() != PipelineVersion {
		t.Errorf("the default detector's version is %q, want %q", AutoDetector.Version(), PipelineVersion)
	}
	seen := map[string]bool{}
	for _, d := range DetectorChoices {
		v := d.Version()
		if seen[v] || !strings.HasPrefix(v, PipelineVersion) {
			t.Errorf("%s: version %q repeats another or does not extend %q", d, v, PipelineVersion)
		}
		seen[v] = true
	}
	for _, bad := range []string{"yolo", "tiny,ssd", "mtcnn"} {
		if _, err := ParseDetector(bad); err == nil || !strings.Contains(err.Error(), "auto, tiny or ssd") {
			t.Errorf("ParseDetector(%q): %v", bad, err)
		}
	}
}
