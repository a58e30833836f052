package data

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// ImageNet channel statistics, the tutorial's Normalize arguments.
var (
	DefaultMean = [3]float32{0.485, 0.456, 0.406}
	DefaultStd  = [3]float32{0.229, 0.224, 0.225}
)

// RGB is a packed 8-bit RGB image: 3 bytes per pixel, rows W*3 bytes apart.
// It is the loader's cache format (a quarter smaller than image.RGBA).
type RGB struct {
	W, H int
	Pix  []uint8
}

// Bytes is the memory the pixels take.
func (m *RGB) Bytes() int { return len(m.Pix) }

// Transform is the tutorial's preprocessing: Resize([Size, Size]) with PIL's
// bilinear filter, then (training with Augment only) a random resized crop,
// a horizontal flip and mild colour jitter, then ToTensor and Normalize.
//
// Unlike torchvision, the augmentation works on the Size x Size image rather
// than the original photo, so the loader can cache the resized image once and
// augment it afresh each epoch; the crop is resampled back to Size x Size
// with the same filter. The colour jitter works on float32 values in [0, 1],
// clamped after each step, as torchvision's tensor path does (its PIL path
// rounds to 8 bits in between); the three adjustments come in random order.
type Transform struct {
	Size      int        // output Size x Size
	Mean, Std [3]float32 // both zero means DefaultMean and DefaultStd
	Augment   bool       // random resized crop + horizontal flip + mild colour jitter (training only)
}

// Augmentation ranges, as in the tutorial's training transform.
const (
	cropScaleMin = 0.7
	cropScaleMax = 1.0
	cropRatioMin = 3.0 / 4
	cropRatioMax = 4.0 / 3
	jitter       = 0.2 // brightness, contrast and saturation factors in [0.8, 1.2]
)

func (t Transform) stats() (mean, std [3]float32) {
	if t.Mean == ([3]float32{}) && t.Std == ([3]float32{}) {
		return DefaultMean, DefaultStd
	}
	return t.Mean, t.Std
}

// Apply converts an image into a normalized CHW float32 slice of length
// 3*Size*Size written into dst. rng drives the augmentation and may be nil
// when Augment is false. It equals Finish(Resize(img)).
func (t Transform) Apply(img image.Image, rng *rand.Rand, dst []float32) error {
	r, err := t.Resize(img)
	if err != nil {
		return err
	}
	return t.Finish(r, rng, dst)
}

// Resize is the deterministic first stage: img resampled to Size x Size as
// PIL's Image.resize((Size, Size), BILINEAR) does it, including PIL's
// antialiasing when shrinking and its 8-bit rounding after each pass.
func (t Transform) Resize(img image.Image) (*RGB, error) {
	if t.Size < 1 {
		return nil, fmt.Errorf("transform: size %d must be positive", t.Size)
	}
	src, ok := img.(*image.RGBA)
	if !ok || src.Rect.Min != (image.Point{}) {
		src = toRGB(img)
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("transform: empty %dx%d image", w, h)
	}
	return resample(plane{src.Pix, 4, src.Stride, w, h}, t.Size, t.Size), nil
}

// Finish is the second stage, run on each use of a cached Resize result:
// augmentation (when enabled), ToTensor (/255) and Normalize, into dst.
func (t Transform) Finish(r *RGB, rng *rand.Rand, dst []float32) error {
	s := t.Size
	if r.W != s || r.H != s {
		return fmt.Errorf("transform: image is %dx%d, want %dx%d", r.W, r.H, s, s)
	}
	if len(dst) != 3*s*s {
		return fmt.Errorf("transform: destination holds %d values, want 3x%dx%d = %d", len(dst), s, s, 3*s*s)
	}
	mean, std := t.stats()
	flip := false
	var order []int
	var factors [3]float32
	if t.Augment {
		if rng == nil {
			return fmt.Errorf("transform: augmentation needs a random generator")
		}
		x, y, w, h := cropBox(rng, s, s)
		if w != s || h != s {
			r = resample(plane{r.Pix[3*(y*s+x):], 3, 3 * s, w, h}, s, s)
		}
		flip = rng.Float64() < 0.5
		order = rng.Perm(3)
		for i := range factors {
			factors[i] = float32(1 - jitter + 2*jitter*rng.Float64())
		}
	}
	n := s * s
	// ToTensor: HWC bytes to CHW in [0, 1], mirrored when flipping.
	for y := 0; y < s; y++ {
		row := r.Pix[3*y*s:]
		for x := 0; x < s; x++ {
			sx := x
			if flip {
				sx = s - 1 - x
			}
			p := row[3*sx:]
			o := y*s + x
			dst[o] = float32(p[0]) / 255
			dst[n+o] = float32(p[1]) / 255
			dst[2*n+o] = float32(p[2]) / 255
		}
	}
	for _, op := range order {
		switch op {
		case 0:
			brightness(dst, factors[0])
		case 1:
			contrast(dst, n, factors[1])
		case 2:
			saturation(dst, n, factors[2])
		}
	}
	for c := 0; c < 3; c++ {
		m, inv := mean[c], 1/std[c]
		ch := dst[c*n : (c+1)*n]
		for i, v := range ch {
			ch[i] = (v - m) * inv
		}
	}
	return nil
}

// cropBox samples RandomResizedCrop's box the way torchvision does: ten tries
// at a random area fraction and log-uniform aspect ratio, then a centre crop
// clamped to the allowed ratios.
func cropBox(rng *rand.Rand, w, h int) (x, y, cw, ch int) {
	area := float64(w * h)
	lo, hi := math.Log(cropRatioMin), math.Log(cropRatioMax)
	for range 10 {
		target := area * (cropScaleMin + (cropScaleMax-cropScaleMin)*rng.Float64())
		ratio := math.Exp(lo + (hi-lo)*rng.Float64())
		cw = int(math.Round(math.Sqrt(target * ratio)))
		ch = int(math.Round(math.Sqrt(target / ratio)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			return rng.IntN(w - cw + 1), rng.IntN(h - ch + 1), cw, ch
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < cropRatioMin:
		cw, ch = w, int(math.Round(float64(w)/cropRatioMin))
	case in > cropRatioMax:
		cw, ch = int(math.Round(float64(h)*cropRatioMax)), h
	default:
		cw, ch = w, h
	}
	return (w - cw) / 2, (h - ch) / 2, cw, ch
}

func clamp01(v float32) float32 { return min(max(v, 0), 1) }

func brightness(x []float32, f float32) {
	for i, v := range x {
		x[i] = clamp01(v * f)
	}
}

// gray is ITU-R 601 luma, as PIL's convert("L") and torchvision use.
func gray(r, g, b float32) float32 { return 0.299*r + 0.587*g + 0.114*b }

func contrast(x []float32, n int, f float32) {
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(gray(x[i], x[n+i], x[2*n+i]))
	}
	m := float32(sum / float64(n))
	for i, v := range x {
		x[i] = clamp01(f*v + (1-f)*m)
	}
}

func saturation(x []float32, n int, f float32) {
	for i := 0; i < n; i++ {
		g := (1 - f) * gray(x[i], x[n+i], x[2*n+i])
		x[i] = clamp01(f*x[i] + g)
		x[n+i] = clamp01(f*x[n+i] + g)
		x[2*n+i] = clamp01(f*x[2*n+i] + g)
	}
}

// plane is a view of 8-bit interleaved pixels: step bytes per pixel (the
// first three are R, G, B), stride bytes per row, w x h pixels from pix[0].
type plane struct {
	pix          []uint8
	step, stride int
	w, h         int
}

// PIL's fixed-point resampling precision for 8-bit images: coefficients
// carry 22 fractional bits, leaving room for 8-bit values and the sum.
const precisionBits = 32 - 8 - 2

// kernel is one axis of a separable resampling: output i reads taps
// [start[i], start[i]+len) with integer weights k[i*size:].
type kernel struct {
	start, n []int
	k        []int32
	size     int
}

// bilinearKernel computes PIL's coefficients for resizing an axis from in to
// out samples with its triangle ("bilinear") filter, whose support grows with
// the shrink factor, so shrinking averages every source pixel (antialiasing)
// rather than sampling four.
func bilinearKernel(in, out int) kernel {
	scale := float64(in) / float64(out)
	fscale := max(scale, 1)
	support := fscale // the triangle's support is 1, stretched by fscale
	size := int(math.Ceil(support))*2 + 1
	kn := kernel{start: make([]int, out), n: make([]int, out), k: make([]int32, out*size), size: size}
	w := make([]float64, size)
	for i := 0; i < out; i++ {
		center := (float64(i) + 0.5) * scale
		// int() truncates toward zero, as the C cast PIL uses does.
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		var sum float64
		for x := lo; x < hi; x++ {
			v := math.Abs((float64(x) - center + 0.5) / fscale)
			t := 0.0
			if v < 1 {
				t = 1 - v
			}
			w[x-lo] = t
			sum += t
		}
		kn.start[i], kn.n[i] = lo, hi-lo
		for x := 0; x < hi-lo; x++ {
			c := w[x]
			if sum != 0 {
				c /= sum
			}
			if c < 0 {
				kn.k[i*size+x] = int32(-0.5 + c*(1<<precisionBits))
			} else {
				kn.k[i*size+x] = int32(0.5 + c*(1<<precisionBits))
			}
		}
	}
	return kn
}

func clip8(v int32) uint8 {
	v >>= precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resample resizes p to ow x oh: a horizontal pass into 8-bit pixels, then a
// vertical one, as PIL does (passes whose size does not change are skipped).
func resample(p plane, ow, oh int) *RGB {
	const half = 1 << (precisionBits - 1)
	if p.w != ow {
		kx := bilinearKernel(p.w, ow)
		tmp := &RGB{W: ow, H: p.h, Pix: make([]uint8, 3*ow*p.h)}
		for y := 0; y < p.h; y++ {
			src := p.pix[y*p.stride:]
			dst := tmp.Pix[3*y*ow:]
			for x := 0; x < ow; x++ {
				k := kx.k[x*kx.size : x*kx.size+kx.n[x]]
				s := src[kx.start[x]*p.step:]
				r, g, b := int32(half), int32(half), int32(half)
				o := 0
				for _, c := range k {
					q := s[o : o+3 : o+3] // one bounds check for three loads
					r += int32(q[0]) * c
					g += int32(q[1]) * c
					b += int32(q[2]) * c
					o += p.step
				}
				dst[3*x], dst[3*x+1], dst[3*x+2] = clip8(r), clip8(g), clip8(b)
			}
		}
		p = plane{tmp.Pix, 3, 3 * ow, ow, p.h}
	}
	out := &RGB{W: ow, H: oh, Pix: make([]uint8, 3*ow*oh)}
	if p.h == oh {
		for y := 0; y < oh; y++ {
			src := p.pix[y*p.stride:]
			dst := out.Pix[3*y*ow:]
			for x := 0; x < ow; x++ {
				copy(dst[3*x:3*x+3], src[x*p.step:])
			}
		}
		return out
	}
	ky := bilinearKernel(p.h, oh)
	for y := 0; y < oh; y++ {
		k := ky.k[y*ky.size : y*ky.size+ky.n[y]]
		dst := out.Pix[3*y*ow:]
		for x := 0; x < ow; x++ {
			r, g, b := int32(half), int32(half), int32(half)
			o := ky.start[y]*p.stride + x*p.step
			for _, c := range k {
				q := p.pix[o : o+3 : o+3]
				r += int32(q[0]) * c
				g += int32(q[1]) * c
				b += int32(q[2]) * c
				o += p.stride
			}
			dst[3*x], dst[3*x+1], dst[3*x+2] = clip8(r), clip8(g), clip8(b)
		}
	}
	return out
}

// ToRGBA converts an RGB back to an image.RGBA, for previews and grids.
func (m *RGB) ToRGBA() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		copy(out.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
		out.Pix[4*i+3] = 255
	}
	return out
}
