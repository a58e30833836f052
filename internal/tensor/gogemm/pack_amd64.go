package gogemm

// Packing moves in assembly (pack_amd64.s): Go compiles a 64-byte array
// copy to a call of runtime.memmove, and those calls made packing B cost
// as much as the multiply on skinny products.

//go:noescape
func copyPanels16(dst, src *float32, ld, rows, panels, pstride int)

//go:noescape
func copyRows6(dst, src *float32, ld, rows int)
