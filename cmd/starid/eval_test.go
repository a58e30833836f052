package main

import (
	"encoding/json"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"starid/internal/data"
	"starid/internal/eval/runeval"
	"starid/internal/models"
	"starid/internal/nn"
	"starid/internal/runs"
	"starid/internal/testkit"
	"starid/internal/train"
)

// The fixture: photos of three colours, and a hand-made run whose network
// averages each channel and scores class c by 10x the channel of its colour,
// so every prediction is known in advance without training.
var (
	colourClasses = []string{"blue", "green", "red"} // sorted, as Scan orders them
	colours       = map[string]color.RGBA{
		"blue":  {B: 220, A: 255},
		"green": {G: 200, A: 255},
		"red":   {R: 230, A: 255},
	}
	// channel[c] is the RGB channel that identifies class c.
	channel = []int{2, 1, 0}
)

func writePNG(t *testing.T, path string, w, h int, c color.RGBA, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		// A little noise so the files differ (identical bytes would be
		// duplicate groups).
		img.Pix[i] = c.R + uint8(r.IntN(20))
		img.Pix[i+1] = c.G + uint8(r.IntN(20))
		img.Pix[i+2] = c.B + uint8(r.IntN(20))
		img.Pix[i+3] = 255
	}
	testkit.WritePNG(t, path, img)
}

// photoFolder makes DIR/<class>/NN.png: four photos per class, except that
// blue/03.png is actually green (a mislabelled photo the model gets wrong).
func photoFolder(t *testing.T, dir string) {
	t.Helper()
	seed := uint64(1)
	for _, c := range colourClasses {
		for i := range 4 {
			col := colours[c]
			if c == "blue" && i == 3 {
				col = colours["green"]
			}
			writePNG(t, filepath.Join(dir, c, "0"+string(rune('0'+i))+".png"), 24+4*i, 20, col, seed)
			seed++
		}
	}
}

// scanSplit scans a photo folder and splits it as a VGG run does with
// seed 1, keeping trainFrac of each class for training.
func scanSplit(t *testing.T, dir string, trainFrac float64) (*data.Dataset, *data.Split) {
	t.Helper()
	ds, err := data.Scan(dir, data.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	split, err := data.StratifiedSplit(ds, trainFrac, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ds, split
}

// makeRun writes RUN (model.json, best.safetensors, split.json) for the
// colour network trained on dataDir. gain scales the logits; threshold, if
// positive, is the run's unknown threshold.
func makeRun(t *testing.T, runDir, dataDir string, gain float32, threshold float64) {
	t.Helper()
	spec := models.Spec{Name: "colour", InChannels: 3, Classes: 3, Layers: []models.LayerSpec{
		{Name: "pool", Kind: models.KindAdaptiveAvgPool2d, OutH: 1, OutW: 1},
		{Name: "flat", Kind: models.KindFlatten},
		{Name: "fc", Kind: models.KindLinear, In: 3, Out: 3},
	}}
	net, err := models.Build(spec, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		p.Value.Zero()
		if p.Name == "weight" {
			for c, ch := range channel {
				p.Value.Data[c*3+ch] = gain
			}
		}
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveStateDict(filepath.Join(runDir, runs.BestFile), net, nil); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dataDir)
	info := runs.ModelInfo{Version: runs.ModelInfoVersion, Model: "colour", Spec: &spec, Classes: colourClasses,
		Size: 8, Mean: data.DefaultMean, Std: data.DefaultStd, Crop: "none", Data: abs, Seed: 1, TrainFrac: 0.5}
	if threshold > 0 {
		info.Unknown = &threshold
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, runs.ModelInfoFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, split := scanSplit(t, dataDir, 0.5)
	if err := split.WriteFile(filepath.Join(runDir, runs.SplitFile)); err != nil {
		t.Fatal(err)
	}
}

type evalJSON struct {
	Accuracy float64  `json:"accuracy"`
	Top5     *float64 `json:"top5"`
	Loss     float64  `json:"loss"`
	N        int      `json:"n"`
	PerClass []struct {
		Name      string  `json:"name"`
		Precision float64 `json:"precision"`
		Recall    float64 `json:"recall"`
		F1        float64 `json:"f1"`
		Support   int     `json:"support"`
	} `json:"per_class"`
	Confusion [][]int  `json:"confusion"`
	Classes   []string `json:"classes"`
	Out       string   `json:"out"`
	Split     string   `json:"split"`
}

func fixture(t *testing.T) (photos, run string) {
	t.Helper()
	dir := t.TempDir()
	photos, run = filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	photoFolder(t, photos)
	makeRun(t, run, photos, 10, 0)
	return photos, run
}

func TestEvalOnFolder(t *testing.T) {
	photos, run := fixture(t)
	code, out, errOut := runCLI("eval", run, "--data", photos, "--json", "--batch", "5")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r evalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// blue/03.png is green: predicted green. Everything else is right.
	if want := [][]int{{3, 1, 0}, {0, 4, 0}, {0, 0, 4}}; !reflect.DeepEqual(r.Confusion, want) {
		t.Errorf("confusion %v, want %v", r.Confusion, want)
	}
	if r.N != 12 || r.Accuracy != 11./12 || r.Top5 != nil || r.Loss <= 0 || r.Loss > 5 { // the mislabelled photo costs ~30 nats, the others ~0; 3 classes: no top-5
		t.Errorf("n %d accuracy %v top5 %v loss %v", r.N, r.Accuracy, r.Top5, r.Loss)
	}
	if g := r.PerClass[1]; g.Name != "green" || g.Precision != 0.8 || g.Recall != 1 || g.Support != 4 {
		t.Errorf("green %+v, want precision 4/5, recall 1, support 4", g)
	}
	if !reflect.DeepEqual(r.Classes, colourClasses) {
		t.Errorf("classes %v", r.Classes)
	}
	// --data results go beside the run, not over its test-split files.
	wantOut := filepath.Join(run, "eval-photos")
	if r.Out != wantOut {
		t.Errorf("out %q, want %q", r.Out, wantOut)
	}
	checkConfusionFiles(t, wantOut, r.Confusion)
	if _, err := os.Stat(filepath.Join(run, runeval.ConfusionPNG)); !os.IsNotExist(err) {
		t.Errorf("eval --data wrote into the run folder itself: %v", err)
	}
}

func checkConfusionFiles(t *testing.T, dir string, want [][]int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, runeval.ConfusionJSON))
	if err != nil {
		t.Fatal(err)
	}
	var cf runeval.ConfusionFile
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Confusion, want) || !reflect.DeepEqual(cf.Classes, colourClasses) {
		t.Errorf("confusion.json %+v, want matrix %v", cf, want)
	}
	testkit.ReadPNG(t, filepath.Join(dir, runeval.ConfusionPNG))
}

func TestEvalTestSplit(t *testing.T) {
	_, run := fixture(t)
	split, err := data.ReadSplit(filepath.Join(run, runs.SplitFile))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("eval", run, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r evalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.N != len(split.Test) || r.Split != "test" || r.Out != run {
		t.Errorf("n %d (split has %d test files), split %q, out %q", r.N, len(split.Test), r.Split, r.Out)
	}
	// The only mistake the network makes is blue/03.png.
	wrong := 0
	if strings.Contains(strings.Join(split.Test, " "), "blue/03.png") {
		wrong = 1
	}
	if want := float64(r.N-wrong) / float64(r.N); r.Accuracy != want {
		t.Errorf("accuracy %v, want %v", r.Accuracy, want)
	}
	total := 0
	for _, row := range r.Confusion {
		for _, v := range row {
			total += v
		}
	}
	if total != r.N {
		t.Errorf("confusion sums to %d, n = %d", total, r.N)
	}
	checkConfusionFilesShape(t, run, 3)

	// The human form: headline numbers and one table row per class.
	code, out, errOut = runCLI("eval", run)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, s := range []string{"accuracy", "loss", "precision", "blue", "green", "red", "macro average", runeval.ConfusionPNG} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "top-5") {
		t.Errorf("top-5 printed for 3 classes:\n%s", out)
	}
}

func TestEvalUnknownThreshold(t *testing.T) {
	dir := t.TempDir()
	photos, run := filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	photoFolder(t, photos)
	// Gain 0.5 keeps every probability well under 0.99: all unknown.
	makeRun(t, run, photos, 0.5, 0.99)
	code, out, errOut := runCLI("eval", run, "--data", photos, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r struct {
		evalJSON
		Unknown int      `json:"unknown"`
		Columns []string `json:"columns"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Accuracy != 0 || r.Unknown != 12 || len(r.Columns) != 4 || r.Columns[3] != "unknown" || r.Confusion[0][3] != 4 {
		t.Errorf("accuracy %v unknown %d columns %v confusion %v", r.Accuracy, r.Unknown, r.Columns, r.Confusion)
	}
}

func TestEvalErrors(t *testing.T) {
	photos, run := fixture(t)
	other := filepath.Join(t.TempDir(), "other")
	writePNG(t, filepath.Join(other, "purple", "a.png"), 8, 8, color.RGBA{R: 128, B: 128, A: 255}, 1)
	writePNG(t, filepath.Join(other, "red", "a.png"), 8, 8, colours["red"], 2)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"eval"}, exitUsage, "--data DIR evaluates the built-in model"},
		{[]string{"eval", run, "other"}, exitUsage, "one run directory"},
		{[]string{"eval", run, "--batch", "0"}, exitUsage, "--batch"},
		{[]string{"eval", filepath.Join(photos, "nope")}, exitInput, "no such run directory"},
		{[]string{"eval", photos}, exitInput, "model.json"},
		{[]string{"eval", run, "--data", other}, exitInput, "does not know: purple"},
		{[]string{"eval", run, "--data", filepath.Join(photos, "missing")}, exitInput, "missing"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("starid %v: exit %d, stderr %q; want %d containing %q", c.args, code, errOut, c.code, c.msg)
		}
	}
	// A test file that vanished after training: the split no longer maps.
	if err := os.Remove(filepath.Join(photos, "red", "00.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(photos, "red", "01.png")); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI("eval", run); code != exitInput || !strings.Contains(errOut, "red/0") {
		t.Errorf("missing split file: exit %d, %q", code, errOut)
	}
}

// TestTrainedRun checks that eval and predict read what `starid train`
// writes: one epoch of the smallest VGG on the colour photos.
func TestTrainedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a network for one epoch")
	}
	dir := t.TempDir()
	photos, run := filepath.Join(dir, "photos"), filepath.Join(dir, "run")
	photoFolder(t, photos)
	// A photo named in Latin-1, not UTF-8: split.json must keep its bytes
	// for eval and resume to find it (issue 17, row 7).
	odd := filepath.Join(photos, "blue", "caf\xe9.png")
	if err := os.Rename(filepath.Join(photos, "blue", "01.png"), odd); err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.Data, cfg.Out, cfg.Model = photos, run, "vgg16-bn-dropout-light"
	cfg.Size, cfg.Epochs, cfg.Batch, cfg.TrainFrac = 32, 1, 4, 0.5
	if _, err := train.Train(t.Context(), cfg, train.Output{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		code, _, errOut := runCLI("train", photos, "--model", cfg.Model, "--out", run, "--resume", "--epochs", "2", "--size", "32", "--batch", "4")
		if code != exitOK {
			t.Errorf("resume of a run with a non-UTF-8 file name: exit %d: %s", code, errOut)
		}
	}()
	code, out, errOut := runCLI("eval", run, "--json")
	if code != exitOK {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var r evalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.N != 6 || len(r.Confusion) != 3 || len(r.PerClass) != 3 || r.Top5 != nil {
		t.Errorf("eval after training: %+v", r)
	}
	checkConfusionFilesShape(t, run, 3)

	img := filepath.Join(photos, "red", "00.png")
	code, out, errOut = runCLI("predict", run, img, "--json")
	var p predictJSON
	if err := json.Unmarshal([]byte(out), &p); code != exitOK || err != nil || len(p) != 1 || len(p[0].Faces) != 1 ||
		len(p[0].Faces[0].Top) != 3 {
		t.Errorf("predict after training: exit %d, %v, %s %s", code, err, out, errOut)
	}
}

func checkConfusionFilesShape(t *testing.T, dir string, classes int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, runeval.ConfusionJSON))
	if err != nil {
		t.Fatal(err)
	}
	var cf runeval.ConfusionFile
	if err := json.Unmarshal(b, &cf); err != nil || len(cf.Confusion) != classes {
		t.Errorf("confusion.json: %v %+v", err, cf)
	}
}

type faceEvalJSON struct {
	evalJSON
	Unknown     int      `json:"unknown"`
	NoFace      int      `json:"no_face"`
	NoFaceFiles []string `json:"no_face_files"`
	UnknownRate float64  `json:"unknown_rate"`
	Threshold   float64  `json:"unknown_threshold"`
	Strangers   *struct {
		N            int            `json:"n"`
		Rejected     int            `json:"rejected"`
		RejectedRate float64        `json:"rejected_rate"`
		NamedAs      map[string]int `json:"named_as"`
		DETPNG       string         `json:"det_png"`
	} `json:"strangers"`
}

// TestEvalFaces: the test split of a face run, photos without a face
// counted as errors, and the strangers study.
func TestEvalFaces(t *testing.T) {
	useFakeFaces(t)
	photos, run := faceRun(t, facePeople, "--exclude", "Dee,Eve")
	var split struct{ Test []string }
	b, _ := os.ReadFile(filepath.Join(run, "split.json"))
	if err := json.Unmarshal(b, &split); err != nil {
		t.Fatal(err)
	}
	noFace, known := 0, 0
	for _, f := range split.Test {
		if f == "Ann/90.png" || f == "Ann/91.png" {
			noFace++
		}
		if !strings.HasPrefix(f, "Dee/") && !strings.HasPrefix(f, "Eve/") {
			known++
		}
	}
	code, out, errOut := runCLI("eval", run, "--json", "--strangers", "excluded")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var r faceEvalJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !reflect.DeepEqual(r.Classes, []string{"Ann", "Bob", "Cid"}) || r.Split != "test" || r.N != known {
		t.Errorf("classes %v split %q n %d (want %d known test photos)", r.Classes, r.Split, r.N, known)
	}
	if r.NoFace != noFace || len(r.NoFaceFiles) != noFace || r.Accuracy != float64(known-noFace)/float64(known) ||
		r.Unknown != noFace || r.UnknownRate != 0 {
		t.Errorf("no face %d (want %d), accuracy %v (want %v), unknown %d rate %v", r.NoFace, noFace, r.Accuracy,
			float64(known-noFace)/float64(known), r.Unknown, r.UnknownRate)
	}
	if r.Top5 != nil || (noFace > 0 && r.Confusion[0][len(r.Confusion[0])-1] != noFace) {
		t.Errorf("top-5 %v (want none for 3 classes), or no-face photos not in the unknown column %v", r.Top5, r.Confusion)
	}
	if s := r.Strangers; s == nil || s.N != 20 || s.Rejected != 20 || s.RejectedRate != 1 || len(s.NamedAs) != 0 {
		t.Errorf("strangers %+v", r.Strangers)
	}
	checkConfusionFilesShape(t, run, 3)
	if s := r.Strangers; s == nil || s.DETPNG != filepath.Join(run, "det.png") {
		t.Errorf("strangers' DET curve at %+v, want %s", r.Strangers, filepath.Join(run, "det.png"))
	} else if img := testkit.ReadPNG(t, s.DETPNG); img.Bounds().Dx() < 100 {
		t.Errorf("det.png is %v", img.Bounds())
	}

	// A threshold that accepts everyone names every stranger wrongly; one
	// that accepts nobody rejects every known face.
	code, out, _ = runCLI("eval", run, "--json", "--strangers", "Dee", "--threshold", "100")
	if err := json.Unmarshal([]byte(out), &r); code != exitOK || err != nil || r.Strangers.Rejected != 0 || len(r.Strangers.NamedAs) == 0 {
		t.Errorf("--threshold 100: exit %d %v %+v", code, err, r.Strangers)
	}
	code, out, _ = runCLI("eval", run, "--strangers", "Dee", "--threshold", "100")
	if code != exitOK || !regexp.MustCompile(`wrongly named: [A-Z][a-z]+ \d+`).MatchString(out) || strings.Contains(out, "map[") {
		t.Errorf("wrong names should read 'Name count', not Go syntax:\n%s", out)
	}
	code, out, _ = runCLI("eval", run, "--json", "--threshold", "0")
	if err := json.Unmarshal([]byte(out), &r); code != exitOK || err != nil || r.UnknownRate != 1 || r.Accuracy != 0 {
		t.Errorf("--threshold 0: exit %d %v unknown rate %v accuracy %v", code, err, r.UnknownRate, r.Accuracy)
	}
	// Human form.
	code, out, _ = runCLI("eval", run, "--strangers", "excluded")
	if code != exitOK || !strings.Contains(out, "strangers (excluded): 20 of 20 answered unknown (100.0%") ||
		!strings.Contains(out, "FAR/FRR curve: "+filepath.Join(run, "det.png")) ||
		!strings.Contains(out, "without a face found (counted as errors)") {
		t.Errorf("human output:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--strangers", "Bob"}, exitUsage, `"Bob" is a person the run knows`},
		{[]string{"--strangers", "Zed"}, exitUsage, `no class folder "Zed"`},
		{[]string{"--data", filepath.Join(photos)}, exitInput, "classes the model does not know: Dee, Eve"},
	} {
		code, _, errOut := runCLI(append([]string{"eval", run}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("eval %v: exit %d, stderr %q; want %d, %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	// A VGG run has no strangers option.
	_, vgg := fixture(t)
	if code, _, errOut := runCLI("eval", vgg, "--strangers", "excluded"); code != exitUsage || !strings.Contains(errOut, "face runs only") {
		t.Errorf("vgg --strangers: exit %d %q", code, errOut)
	}
}
