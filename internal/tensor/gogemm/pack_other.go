//go:build !amd64

package gogemm

import "unsafe"

func copyPanels16(dst, src *float32, ld, rows, panels, pstride int) {
	d := unsafe.Slice(dst, (panels-1)*pstride+rows*16)
	s := unsafe.Slice(src, (rows-1)*ld+panels*16)
	for p := 0; p < rows; p++ {
		for q := 0; q < panels; q++ {
			copy(d[q*pstride+p*16:q*pstride+p*16+16], s[p*ld+q*16:])
		}
	}
}

func copyRows6(dst, src *float32, ld, rows int) {
	d := unsafe.Slice(dst, rows*6)
	s := unsafe.Slice(src, (rows-1)*ld+6)
	for p := 0; p < rows; p++ {
		copy(d[p*6:p*6+6], s[p*ld:])
	}
}
