package faces

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"
)

// PipelineVersion names everything that decides a descriptor: the weights,
// the detector sizes and policy, the landmark net and the alignment
// template. Descriptor caches are keyed by it, so it must change whenever
// any of those does.
const PipelineVersion = "face-api-1.7.15/starid-9"

// MinScore is the detector confidence a face must reach (face-api's
// default for the tiny detector).
const MinScore = 0.5

// Pipeline finds, aligns and describes every face in a photo. It is safe
// for concurrent use: each net keeps a pool of layer instances.
type Pipeline struct {
	Det      *Detector
	Marks    *Landmarker
	Rec      *Recognizer
	Sizes    []int    // detector input sizes, tried in order (DetectFallback)
	MinScore float64  // detector threshold
	Template Template // alignment target
	// Border is the grey margin, as a fraction of the photo's longer
	// side on each side, of a second look at a photo in which no size
	// found a face (0: none). See BorderRetry.
	Border float64
	// SmallFaces: when every face the first size found is smaller than
	// this share of the photo's longer side, the photo is a group or a
	// scene, and the largest size looks for the faces too small for the
	// first (0: never). See SmallFaceShare.
	SmallFaces float64
	// Unsure: when the surest face found scores below this, the photo
	// gets the bordered look too and the faces of both looks are pooled
	// (0: only photos without any face get it). See UnsureScore.
	Unsure float64
	// Tiles: in the small-face look, a photo at least this many times
	// longer than wide is also looked at in squares (0: never). See
	// TileAspect.
	Tiles float64
	// SSD is the second, slower detector and SSDUse when it looks;
	// SSDMinScore is its threshold. See SSDUse. When SSD is nil, the
	// detector LoadPipeline arranged is loaded on first need (most photos
	// never need it), else there is none.
	SSD         *SSD
	SSDUse      SSDUse
	SSDMinScore float64
	ssdLazy     *lazySSD
}

// DefaultSSDUse is the default Pipeline.SSDUse. On collages of held-out
// photos the group look raised the faces found from 243 to 308 of 316
// (turned heads), and on the sample group photos from 18 to 22 of 22; with
// the unsure look no face-filling aligned thumbnail of 85 (64 to 300 px)
// is left without a face, against 16 at 64 px before
// (docs/EXPERIMENTS.md, "Second detector"). Both run on about 5% of
// celebrity17's photos, so a one-face portrait pays nothing.
const DefaultSSDUse = SSDWhenUnsure | SSDForGroups

// lazySSD loads the SSD detector once, on first need.
type lazySSD struct {
	dir  string
	once sync.Once
	ssd  *SSD
	err  error
}

func (l *lazySSD) get() (*SSD, error) {
	l.once.Do(func() { l.ssd, l.err = LoadSSD(l.dir) })
	return l.ssd, l.err
}

// ssd is the pipeline's SSD detector, loading it if LoadPipeline arranged
// that; nil without error when there is none.
func (p *Pipeline) ssd() (*SSD, error) {
	if p.SSD != nil || p.ssdLazy == nil {
		return p.SSD, nil
	}
	return p.ssdLazy.get()
}

// SSDUse says when Pipeline.SSD looks at a photo: a set of the flags
// below.
type SSDUse int

const (
	// SSDWhenUnsure: when the tiny detector finds no face, or none
	// scoring Unsure, the SSD looks too and the faces are pooled; if it
	// is unsure too, the bordered look (Border) is pooled with the SSD's
	// look at the bordered copy. Portraits the tiny detector is sure of
	// pay nothing.
	SSDWhenUnsure SSDUse = 1 << iota
	// SSDForGroups: a group photo (the tiny detector found two faces or
	// more, or the small-face look ran) pools the SSD's faces with the
	// tiny detector's: it finds turned heads the tiny one misses.
	SSDForGroups
	// SSDOnly: the SSD replaces the tiny detector (the bordered look, if
	// any, uses it too).
	SSDOnly
)

// UnsureScore is the default Pipeline.Unsure. A low-scoring face is often
// not the photo's subject: a background face, or a false box on foliage,
// found while the close-up face that fills the frame was missed (as a
// thumbnail's is, see BorderRetry).
const UnsureScore = 0.7

// SmallFaceShare is the default Pipeline.SmallFaces. A face found at 320
// settled the photo, so it hid smaller ones: in 2400x300 collages of
// eight stars 16 of 80 faces were found, 57 with this look (and 9 of 72
// against 48 in 1800x900 ones); portraits, whose face is larger than this
// share, pay nothing (docs/EXPERIMENTS.md, "Group photos").
const SmallFaceShare = 0.15

// BorderRetry is the default Pipeline.Border. A photo that is already a
// face crop (a thumbnail whose face fills the frame) shows the detector a
// face far larger than any it was trained to box, and it finds nothing at
// any size; with a border the face has the proportions of a portrait. On
// 1,360 thumbnails cut from held-out celebrity17 photos it cut the photos
// without a face from 476 to 43 (docs/EXPERIMENTS.md, "Thumbnails"). It
// costs nothing on photos where a face is found.
const BorderRetry = 0.5

// borderGrey is the border's value on every channel: mid-grey, near the
// detector's mean colour, so the border itself looks like nothing.
const borderGrey = 128

// LoadPipeline loads the three nets from modelDir (the folder holding
// model/, see ModelDir), and arranges for the SSD detector to load from
// there on first need (a photo without a sure face, or a group photo).
func LoadPipeline(modelDir string) (*Pipeline, error) {
	det, err := LoadDetector(modelDir)
	if err != nil {
		return nil, err
	}
	marks, err := LoadLandmarker(modelDir)
	if err != nil {
		return nil, err
	}
	rec, err := LoadRecognizer(modelDir)
	if err != nil {
		return nil, err
	}
	return &Pipeline{Det: det, Marks: marks, Rec: rec, Sizes: DefaultSizes, MinScore: MinScore, Template: DefaultTemplate,
		Border: BorderRetry, SmallFaces: SmallFaceShare, Unsure: UnsureScore, Tiles: TileAspect,
		SSDUse: DefaultSSDUse, SSDMinScore: SSDMinScore, ssdLazy: &lazySSD{dir: modelDir}}, nil
}

// Faces returns every face in img with its landmarks and descriptor,
// largest box first. A photo without faces gives an empty slice.
func (p *Pipeline) Faces(img *Image) ([]Face, error) {
	src, off, dets, err := p.detect(img)
	if err != nil {
		return nil, err
	}
	// Largest first: the main subject of a portrait, and the face the
	// training set's one-descriptor-per-photo rule keeps.
	SortLargestFirst(dets)
	out := make([]Face, 0, len(dets))
	for _, d := range dets {
		f, err := p.describe(src, d)
		if err != nil {
			return nil, err
		}
		if f != nil {
			f.shift(off)
			out = append(out, *f)
		}
	}
	return out, nil
}

// detect finds the faces of img: the first size that finds any face
// settles a portrait, the later sizes rescue the ~6% of photos the first
// one misses (DefaultSizes); a photo whose faces are all small for it gets
// the largest size too (SmallFaces), and one without any a bordered second
// look (Border). src is the image the boxes are on, off where img lies in
// it.
func (p *Pipeline) detect(img *Image) (src *Image, off Point, dets []Detection, err error) {
	if p.SSDUse&SSDOnly != 0 {
		return p.detectSSD(img)
	}
	dets, err = p.Det.DetectFallback(img, p.Sizes, p.MinScore)
	if err != nil {
		return nil, off, nil, err
	}
	group := len(dets) >= 2
	if len(dets) > 0 && p.SmallFaces > 0 {
		largest, last := 0.0, p.Sizes[len(p.Sizes)-1]
		for _, d := range dets {
			largest = max(largest, d.Box.W, d.Box.H)
		}
		if dets[0].Size < last && largest < p.SmallFaces*float64(max(img.W, img.H)) {
			group = true
			more, err := p.Det.Detect(img, last, p.MinScore)
			if err != nil {
				return nil, off, nil, err
			}
			dets = append(dets, more...)
			if p.Tiles > 0 && float64(max(img.W, img.H)) >= p.Tiles*float64(min(img.W, img.H)) {
				if more, err = p.detectTiles(img); err != nil {
					return nil, off, nil, err
				}
				dets = append(dets, more...)
			}
			dets = NMS(dets, DetectorIoU)
		}
	}
	looked := false // the SSD has looked at img
	if group && p.SSDUse&SSDForGroups != 0 {
		if dets, err = p.poolSSD(img, dets); err != nil {
			return nil, off, nil, err
		}
		looked = true
	}
	if len(dets) > 0 && bestScore(dets) >= p.Unsure {
		return img, off, dets, nil
	}
	return p.detectUnsure(img, dets, looked)
}

// detectUnsure is the second look at a photo whose faces so far (dets,
// maybe none) include none scoring Unsure: the SSD (unless it has looked
// already), then the bordered look (Border) with the tiny detector, and if
// still unsure the SSD on the bordered copy: a face-filling thumbnail is
// one the SSD misses too, but finds once bordered (16 of 16 that both
// detectors missed at 64 px). The SSD's faces win where the looks are
// pooled (see preferSSD). A sure SSD face does not end the look: in a
// close-up with a small inset face, it may be the inset.
func (p *Pipeline) detectUnsure(img *Image, dets []Detection, looked bool) (*Image, Point, []Detection, error) {
	var sure []Detection // the SSD's faces
	ssdLook := func(m *Image) error {
		ssd, err := p.ssd()
		if err != nil || ssd == nil || p.SSDUse&SSDWhenUnsure == 0 {
			return err
		}
		found, err := ssd.Detect(m, p.SSDMinScore)
		sure = NMS(append(sure, found...), SSDIoU)
		return err
	}
	if !looked {
		if err := ssdLook(img); err != nil {
			return nil, Point{}, nil, err
		}
	}
	if p.Border <= 0 {
		return img, Point{}, preferSSD(sure, dets), nil
	}
	src, off := Bordered(img, p.Border, borderGrey)
	var again []Detection
	var err error
	if len(dets) == 0 {
		again, err = p.Det.DetectFallback(src, p.Sizes, p.MinScore)
	} else {
		// An unsure photo's second look is for a close-up, which the
		// first size sees best on the bordered copy: the larger sizes
		// would cost three more passes for faces too small to be the
		// one missed.
		again, err = p.Det.Detect(src, p.Sizes[0], p.MinScore)
	}
	if err != nil {
		return nil, off, nil, err
	}
	shiftAll(dets, off)
	shiftAll(sure, off)
	dets = NMS(append(dets, again...), DetectorIoU)
	if pooled := preferSSD(sure, dets); len(pooled) > 0 && bestScore(pooled) >= p.Unsure {
		return src, off, pooled, nil
	}
	if err := ssdLook(src); err != nil {
		return nil, off, nil, err
	}
	return src, off, preferSSD(sure, dets), nil
}

// shiftAll moves boxes on a photo onto its bordered copy, where the photo
// lies at off.
func shiftAll(dets []Detection, off Point) {
	for i := range dets {
		dets[i].Box.X += off.X
		dets[i].Box.Y += off.Y
	}
}

// poolSSD adds to dets the faces only the SSD finds (see addNewFaces);
// the unsure look pools the other way round (preferSSD).
func (p *Pipeline) poolSSD(img *Image, dets []Detection) ([]Detection, error) {
	ssd, err := p.ssd()
	if err != nil || ssd == nil {
		return dets, err
	}
	more, err := ssd.Detect(img, p.SSDMinScore)
	if err != nil {
		return nil, err
	}
	return addNewFaces(dets, more), nil
}

// addNewFaces adds to the tiny detector's faces those of the SSD's that
// are not one of them (sameFace). In a group photo the tiny detector's
// box of a face it found stays: the landmark net and the descriptors the
// models were fitted on come from its boxes, and letting the SSD's box
// win there cost 2 of 1,370 portraits in cross-validation (a portrait
// with a second face takes this look).
func addNewFaces(dets, more []Detection) []Detection {
	out := append([]Detection(nil), dets...)
	for _, m := range more {
		known := false
		for _, d := range dets {
			known = known || sameFace(d.Box, m.Box)
		}
		if !known {
			out = append(out, m)
		}
	}
	return NMS(out, DetectorIoU)
}

// preferSSD pools the SSD's faces with the tiny detector's. The SSD's
// boxes win: a tiny-detector box stays only where it covers no SSD face
// (see poolOverlap), since the two box a face differently (NMS at
// DetectorIoU kept both boxes of a face in group photos). Tiny-detector
// faces the SSD did not see stay: in collages they are often too small for
// it. (Dropping those larger than a tenth of the photo, as a false box in
// sample6 is, lost 6 to 8 collage faces per layout.)
func preferSSD(better, dets []Detection) []Detection {
	out := append([]Detection(nil), better...)
	for _, d := range dets {
		keep := true
		for _, b := range better {
			keep = keep && !sameFace(d.Box, b.Box)
		}
		if keep {
			out = append(out, d)
		}
	}
	return NMS(out, DetectorIoU)
}

// sameFace says whether a tiny-detector box and an SSD box are one face:
// they share more than poolOverlap of the smaller box, and neither is
// poolScale times the other's area (a close-up's box holds an inset
// face's whole box, yet they are two faces).
func sameFace(a, b Box) bool {
	small, large := min(a.Area(), b.Area()), max(a.Area(), b.Area())
	return overlapOfSmaller(a, b) > poolOverlap && large <= poolScale*small
}

// poolOverlap is how much of the smaller box a tiny-detector box may share
// with an SSD box and still count as another face: a false box between
// two faces of sample4 shares a third with one of them.
const poolOverlap = 0.25

// poolScale bounds the area ratio of two boxes of one face: the tiny
// detector's box of a face is up to about twice the SSD's in the samples.
const poolScale = 4

// overlapOfSmaller is the intersection of a and b over the smaller area.
func overlapOfSmaller(a, b Box) float64 {
	x0, y0 := max(a.X, b.X), max(a.Y, b.Y)
	x1, y1 := min(a.Right(), b.Right()), min(a.Bottom(), b.Bottom())
	small := min(a.Area(), b.Area())
	if small <= 0 {
		return 0
	}
	return Box{x0, y0, x1 - x0, y1 - y0}.Area() / small
}

// detectSSD is detect with the SSD in place of the tiny detector: one
// look, then a bordered one when it finds nothing.
func (p *Pipeline) detectSSD(img *Image) (*Image, Point, []Detection, error) {
	ssd, err := p.ssd()
	if err == nil && ssd == nil {
		err = errors.New("faces: the pipeline has no SSD detector to use in place of the tiny one")
	}
	if err != nil {
		return nil, Point{}, nil, err
	}
	dets, err := ssd.Detect(img, p.SSDMinScore)
	if err != nil || len(dets) > 0 || p.Border <= 0 {
		return img, Point{}, dets, err
	}
	src, off := Bordered(img, p.Border, borderGrey)
	dets, err = ssd.Detect(src, p.SSDMinScore)
	return src, off, dets, err
}

// TileAspect is the default Pipeline.Tiles: how many times longer than
// wide a photo must be for the small-face look to go over it in squares
// too. The net sees a photo
// squeezed so its longer side fits the input: in a 1600x400 strip a 120 px
// face shrinks to 46 px even at 608, too small for the tiny detector, while
// in a 400x400 square at 320 it is 96 px.
const TileAspect = 2

// detectTiles runs the first detector size over squares as wide as the
// photo's shorter side, overlapping by half, along its longer side, and
// returns the faces on the photo.
func (p *Pipeline) detectTiles(img *Image) ([]Detection, error) {
	side, long := min(img.W, img.H), max(img.W, img.H)
	var out []Detection
	for o := 0; ; o += side / 2 {
		o = min(o, long-side)
		r := image.Rect(o, 0, o+side, side)
		if img.H > img.W {
			r = image.Rect(0, o, side, o+side)
		}
		tile, err := img.Crop(r)
		if err != nil {
			return nil, err
		}
		dets, err := p.Det.Detect(tile, p.Sizes[0], p.MinScore)
		if err != nil {
			return nil, err
		}
		for _, d := range dets {
			d.Box.X += float64(r.Min.X)
			d.Box.Y += float64(r.Min.Y)
			out = append(out, d)
		}
		if o+side >= long {
			return out, nil
		}
	}
}

func bestScore(dets []Detection) float64 {
	top := 0.0
	for _, d := range dets {
		top = max(top, d.Score)
	}
	return top
}

// describe adds landmarks and a descriptor to one detection. A box whose
// crop is empty (wholly outside the photo) is dropped rather than failing
// the photo.
func (p *Pipeline) describe(img *Image, d Detection) (*Face, error) {
	if img.ClipBox(d.Box).Empty() {
		return nil, nil
	}
	marks, err := p.Marks.Landmarks(img, d.Box)
	if err != nil {
		return nil, fmt.Errorf("landmarks: %w", err)
	}
	chip, err := AlignedChip(img, marks, p.Template, nil)
	if err != nil {
		return nil, fmt.Errorf("alignment: %w", err)
	}
	desc, err := p.Rec.Describe(chip)
	if err != nil {
		return nil, fmt.Errorf("descriptor: %w", err)
	}
	return &Face{Detection: d, Landmarks: marks, Descriptor: desc}, nil
}

// shift moves a face found at off in a bordered copy back onto the photo.
// Its box may then reach past the photo's edges, as a cropped face's does.
func (f *Face) shift(off Point) {
	f.Box.X -= off.X
	f.Box.Y -= off.Y
	for i := range f.Landmarks {
		f.Landmarks[i].X -= off.X
		f.Landmarks[i].Y -= off.Y
	}
}

// Bordered returns img inside a border of value grey, frac of its longer
// side wide on each side, and where img's top-left corner lies in it.
func Bordered(img *Image, frac float64, grey float32) (*Image, Point) {
	b := int(math.Round(frac * float64(max(img.W, img.H))))
	out := NewImage(img.W+2*b, img.H+2*b)
	for i := range out.Pix {
		out.Pix[i] = grey
	}
	for y := range img.H {
		copy(out.Pix[((y+b)*out.W+b)*3:], img.Pix[y*img.W*3:(y+1)*img.W*3])
	}
	return out, Point{X: float64(b), Y: float64(b)}
}
