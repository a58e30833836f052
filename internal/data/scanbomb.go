package data

import "bytes"

// ScanBombJPEG builds a valid grey progressive JPEG of w×h pixels with one
// DC scan and then extra AC scans that carry nothing but end-of-band runs:
// a few dozen bytes each, yet each one makes a decoder visit every block of
// the image. It is the attack of issue 17 row 1, made from markers directly
// because no Go encoder writes progressive JPEGs; the tests of this package
// and of the server, and bench/serveload, send it.
func ScanBombJPEG(w, h, extraScans int) []byte {
	var b bytes.Buffer
	seg := func(marker byte, body ...byte) {
		b.Write([]byte{0xff, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)})
		b.Write(body)
	}
	b.Write([]byte{0xff, 0xd8})
	seg(0xdb, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)...) // flat quantisation
	seg(0xc2, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0)
	// One code ("0", one bit) per table: DC difference 0, and for AC the
	// symbol 0xE0, an end-of-band run of 2^14 plus 14 extra bits.
	seg(0xc4, append([]byte{0x00, 1}, append(make([]byte, 15), 0x00)...)...)
	seg(0xc4, append([]byte{0x10, 1}, append(make([]byte, 15), 0xe0)...)...)
	blocks := ((w + 7) / 8) * ((h + 7) / 8)
	seg(0xda, 1, 1, 0x00, 0, 0, 0x00) // DC first scan: every difference 0
	var bw bitWriter
	for range blocks {
		bw.put(0, 1)
	}
	b.Write(bw.flush())
	for range extraScans {
		seg(0xda, 1, 1, 0x00, 1, 63, 0x00)
		for left := blocks; left > 0; left -= 1<<15 - 1 {
			bw.put(0, 1)        // the code of 0xE0
			bw.put(1<<14-1, 14) // run 2^14 + 16383 = 32767 blocks
		}
		b.Write(bw.flush())
	}
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}

// bitWriter writes entropy-coded bits MSB first with JPEG's byte stuffing.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc int
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>i)&1
		if w.nacc++; w.nacc == 8 {
			w.emit(byte(w.acc))
			w.acc, w.nacc = 0, 0
		}
	}
}

func (w *bitWriter) emit(c byte) {
	w.out = append(w.out, c)
	if c == 0xff {
		w.out = append(w.out, 0)
	}
}

// flush pads the last byte with 1 bits, as encoders do, and returns the
// bytes written since the last flush.
func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.emit(byte(w.acc<<(8-w.nacc) | (1<<(8-w.nacc) - 1)))
		w.acc, w.nacc = 0, 0
	}
	out := w.out
	w.out = nil
	return out
}
