package faces

// defaultPadding is DefaultTemplate's padding (dlib's
// get_face_chip_details(shape, 150, 0.25)).
const defaultPadding = 0.25

// meanShapeRefs are the eye and mouth centres of dlib's mean face shape in
// its own unit-square frame, recovered from DefaultTemplate by undoing its
// padding: p = (padding + m) / (1 + 2*padding), so m = p*(1 + 2*padding) -
// padding. Deriving them from DefaultTemplate rather than writing the mean
// shape's numbers again keeps one source: ChipTemplate(150, 0.25) is the
// chip the recognition net sees, to rounding.
func meanShapeRefs() [3]Point {
	un := func(p Point) Point {
		return Point{p.X*(1+2*defaultPadding) - defaultPadding, p.Y*(1+2*defaultPadding) - defaultPadding}
	}
	return [3]Point{un(DefaultTemplate.LeftEye), un(DefaultTemplate.RightEye), un(DefaultTemplate.Mouth)}
}

// ChipTemplate is dlib's chip geometry for any side and padding: the mean
// face shape, whose landmarks span about the unit square (brows at the top,
// chin at the bottom), is shrunk into the middle of the chip with padding
// times its size of room on every side. Padding 0.25 at 150 is
// DefaultTemplate, the recognition net's chip, which cuts through the
// forehead; 0.5 keeps the hair line, the ears and the chin, which a network
// learning faces from scratch can use. Padding must be > -0.5 (at -0.5 the
// face would fill an infinitely large chip); callers bound it.
func ChipTemplate(size int, padding float64) Template {
	ref := meanShapeRefs()
	at := func(m Point) Point {
		return Point{(padding + m.X) / (1 + 2*padding), (padding + m.Y) / (1 + 2*padding)}
	}
	return Template{LeftEye: at(ref[0]), RightEye: at(ref[1]), Mouth: at(ref[2]), Size: size}
}
