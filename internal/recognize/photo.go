package recognize

import (
	"image"

	"starid/internal/data"
	"starid/internal/faces"
)

// Photo is one decoded photo. The face pipeline reads it as a
// faces.Image, the VGG networks as an image.RGBA; each form is made at
// most once, from the other, only when a recognizer asks for it, so a
// photo is decoded once whichever path it takes. A Photo is used by one
// goroutine at a time.
type Photo struct {
	rgba *image.RGBA
	img  *faces.Image
}

// FromRGBA wraps a decoded photo (data.DecodeFile's form).
func FromRGBA(m *image.RGBA) *Photo { return &Photo{rgba: m} }

// FromFaces wraps a photo already in the face pipeline's form (the
// server's).
func FromFaces(m *faces.Image) *Photo { return &Photo{img: m} }

// Decode reads and decodes the photo at path (EXIF orientation applied),
// within data.DefaultMaxPixels.
func Decode(path string) (*Photo, error) {
	m, err := data.DecodeFile(path, data.DefaultMaxPixels)
	if err != nil {
		return nil, err
	}
	return FromRGBA(m), nil
}

// RGBA is the photo as 8-bit RGBA.
func (p *Photo) RGBA() *image.RGBA {
	if p.rgba == nil {
		m := p.img
		p.rgba = image.NewRGBA(image.Rect(0, 0, m.W, m.H))
		for i := 0; i < m.W*m.H; i++ {
			p.rgba.Pix[4*i] = uint8(m.Pix[3*i])
			p.rgba.Pix[4*i+1] = uint8(m.Pix[3*i+1])
			p.rgba.Pix[4*i+2] = uint8(m.Pix[3*i+2])
			p.rgba.Pix[4*i+3] = 255
		}
	}
	return p.rgba
}

// Faces is the photo in the face pipeline's form.
func (p *Photo) Faces() *faces.Image {
	if p.img == nil {
		p.img = faces.FromImage(p.rgba)
	}
	return p.img
}
