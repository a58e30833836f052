package main

import (
	"encoding/json"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

type predictJSON []struct {
	Image string `json:"image"`
	Error string `json:"error"`
	Faces []struct {
		Box        []int   `json:"box"`
		Name       string  `json:"name"`
		Confidence float64 `json:"confidence"`
		Top        []struct {
			Name        string  `json:"name"`
			Probability float64 `json:"probability"`
		} `json:"top"`
	} `json:"faces"`
}

func TestPredictJSON(t *testing.T) {
	photos, run := fixture(t)
	broken := filepath.Join(t.TempDir(), "broken.jpg")
	if err := os.WriteFile(broken, []byte("\xff\xd8\xff\xe0 not really a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	red := filepath.Join(photos, "red", "02.png")    // 32x20
	green := filepath.Join(photos, "blue", "03.png") // green, in the blue folder: 36x20
	code, out, errOut := runCLI("predict", run, red, broken, green, "--json")
	if code != exitInput {
		t.Errorf("exit %d with an unreadable image, want %d; stderr %q", code, exitInput, errOut)
	}
	if !strings.Contains(errOut, "1 of 3 images") {
		t.Errorf("stderr %q does not count the failure", errOut)
	}
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(p) != 3 || p[0].Image != red || p[1].Image != broken || p[2].Image != green {
		t.Fatalf("entries %+v", p)
	}
	if p[1].Error == "" || len(p[1].Faces) != 0 {
		t.Errorf("broken image: %+v", p[1])
	}
	for i, want := range map[int]struct {
		name string
		w, h int
	}{0: {"red", 32, 20}, 2: {"green", 36, 20}} {
		e := p[i]
		if e.Error != "" || len(e.Faces) != 1 {
			t.Fatalf("%s: %+v", e.Image, e)
		}
		f := e.Faces[0]
		if f.Name != want.name || len(f.Box) != 4 || f.Box[0] != 0 || f.Box[1] != 0 || f.Box[2] != want.w || f.Box[3] != want.h {
			t.Errorf("%s: name %q box %v, want %q [0 0 %d %d]", e.Image, f.Name, f.Box, want.name, want.w, want.h)
		}
		// --top 5 with 3 classes lists all 3, best first, summing to 1.
		if len(f.Top) != 3 || f.Top[0].Name != f.Name || f.Top[0].Probability != f.Confidence || f.Confidence < 0.99 {
			t.Errorf("%s: top %+v confidence %v", e.Image, f.Top, f.Confidence)
		}
		sum := 0.0
		for k, c := range f.Top {
			sum += c.Probability
			if k > 0 && c.Probability > f.Top[k-1].Probability {
				t.Errorf("%s: top not sorted: %+v", e.Image, f.Top)
			}
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("%s: probabilities sum to %v", e.Image, sum)
		}
	}
}

func TestPredictHumanAndTop(t *testing.T) {
	photos, run := fixture(t)
	red := filepath.Join(photos, "red", "00.png")
	code, out, errOut := runCLI("predict", run, red, "--top", "2")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], red+": red 100.0%") || strings.Count(lines[0], "%") != 2 {
		t.Errorf("output %q, want one line starting %q with two names", out, red+": red 100.0%")
	}
	code, out, _ = runCLI("predict", run, red, "--top", "1", "--json")
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || len(p[0].Faces[0].Top) != 1 {
		t.Errorf("--top 1: exit %d, %v, %s", code, err, out)
	}
}

func TestPredictUnknown(t *testing.T) {
	dir := t.TempDir()
	photos, run := filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	photoFolder(t, photos)
	makeRun(t, run, photos, 0.5, 0.99)
	code, out, errOut := runCLI("predict", run, filepath.Join(photos, "red", "00.png"), "--json")
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v: %s %s", code, err, out, errOut)
	}
	// Below the threshold: the name is unknown, the ranking still says red.
	if f := p[0].Faces[0]; f.Name != "unknown" || f.Top[0].Name != "red" || f.Confidence >= 0.99 {
		t.Errorf("face %+v", f)
	}
}

func TestPredictErrors(t *testing.T) {
	photos, run := fixture(t)
	img := filepath.Join(photos, "red", "00.png")
	missing := filepath.Join(photos, "red", "nope.png")
	writePNG(t, filepath.Join(photos, "x.png"), 4, 4, color.RGBA{A: 255}, 1)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"predict", run}, exitUsage, "at least one image"},
		{[]string{"predict", run, img, "--top", "0"}, exitUsage, "--top"},
		// A run after the photos is a run in the wrong place, not a
		// folder without photos.
		{[]string{"predict", img, run}, exitUsage, run + " is a run folder: give it first"},
		{[]string{"predict", run, img, run}, exitUsage, run + " is a run folder: give it first"},
		// Refused before any photo is named, not after all of them.
		{[]string{"predict", run, img, "--out", img}, exitUsage, "--out: " + img + " is a file, not a folder"},
		// Not a run folder: the built-in model names the photos, and this
		// is one that cannot be read.
		{[]string{"predict", filepath.Join(photos, "norun"), img}, exitInput, "norun: unreadable: no such file or directory"},
		{[]string{"predict", run, missing}, exitInput, "nope.png"},
		// Issue 17, row 4: an endless device and a FIFO are refused by
		// type, never read (they grew to 24 GB or hung).
		{[]string{"predict", run, "/dev/zero"}, exitInput, "/dev/zero: not a regular file (character device)"},
	}
	if fifo := filepath.Join(t.TempDir(), "x.jpg"); syscall.Mkfifo(fifo, 0o644) == nil {
		cases = append(cases, struct {
			args []string
			code int
			msg  string
		}{[]string{"predict", run, fifo}, exitInput, "x.jpg: not a regular file (named pipe)"})
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("starid %v: exit %d, stderr %q; want %d containing %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}

// TestPredictFaces: every face of each photo, largest first, named or
// "unknown" with the closest person; a photo without a face says so; an
// unreadable one gets an error entry and exit status 2.
func TestPredictFaces(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople)
	dir := t.TempDir()
	// Bob small on the left, a stranger (person 9) large on the right.
	group, empty, broken, _ := goldenPhotos(t, dir)
	code, out, errOut := runCLI("predict", run, group, empty, broken, "--json", "--top", "3")
	if code != exitInput || !strings.Contains(errOut, "1 of 3 images") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	var p []struct {
		Image string `json:"image"`
		Error string `json:"error"`
		Note  string `json:"note"`
		Faces []struct {
			Box        []int    `json:"box"`
			Name       string   `json:"name"`
			Confidence float64  `json:"confidence"`
			Distance   *float64 `json:"distance"`
			Closest    string   `json:"closest"`
			Top        []struct {
				Name        string  `json:"name"`
				Probability float64 `json:"probability"`
			} `json:"top"`
		} `json:"faces"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p) != 3 {
		t.Fatalf("%v: %s", err, out)
	}
	if len(p[0].Faces) != 2 {
		t.Fatalf("group photo: %+v", p[0])
	}
	stranger, bob := p[0].Faces[0], p[0].Faces[1]
	if stranger.Name != "unknown" || !slices.Equal(stranger.Box, []int{36, 5, 20, 20}) || stranger.Distance == nil ||
		*stranger.Distance < 0.5 || stranger.Closest == "" || len(stranger.Top) != 3 {
		t.Errorf("stranger: %+v", stranger)
	}
	if bob.Name != "Bob" || !slices.Equal(bob.Box, []int{2, 2, 10, 10}) || bob.Confidence < 0.9 || bob.Top[0].Name != "Bob" ||
		bob.Top[0].Probability != bob.Confidence || *bob.Distance > 0.3 || bob.Closest != "Bob" {
		t.Errorf("Bob: %+v", bob)
	}
	if p[1].Note != "no face found" || len(p[1].Faces) != 0 || p[1].Error != "" {
		t.Errorf("empty photo: %+v", p[1])
	}
	if p[2].Error == "" || len(p[2].Faces) != 0 {
		t.Errorf("broken photo: %+v", p[2])
	}

	// The human form, and --threshold in both directions.
	code, out, _ = runCLI("predict", run, group, empty, "--top", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], group+": face 1 at [36 5 20 20]: unknown (closest: ") ||
		!strings.Contains(lines[1], "face 2 at [2 2 10 10]: Bob ") || !strings.Contains(lines[1], "; also ") ||
		lines[2] != empty+": no face found" {
		t.Errorf("human output (exit %d):\n%s", code, out)
	}
	code, out, _ = runCLI("predict", run, group, "--threshold", "100", "--json")
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || p[0].Faces[0].Name == "unknown" {
		t.Errorf("--threshold 100 still rejects the stranger: %s", out)
	}
	code, out, _ = runCLI("predict", run, group, "--threshold", "0", "--json")
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || p[0].Faces[1].Name != "unknown" {
		t.Errorf("--threshold 0 still names Bob: %s", out)
	}
	if code, _, errOut := runCLI("predict", run, group, "--threshold", "-1"); code != exitUsage || !strings.Contains(errOut, "--threshold") {
		t.Errorf("negative threshold: exit %d %q", code, errOut)
	}
}

// A face run reads photos through the same bounded reader (issue 17, row
// 4: `predict FACE_RUN /dev/zero` grew to 24 GB).
func TestPredictFaceRunRefusesDevices(t *testing.T) {
	useFakeFaces(t)
	_, run := faceRun(t, facePeople)
	code, out, errOut := runCLI("predict", run, "/dev/zero", "--json")
	if code != exitInput || !strings.Contains(out, "not a regular file (character device)") {
		t.Errorf("exit %d, stdout %s, stderr %q", code, out, errOut)
	}
}
