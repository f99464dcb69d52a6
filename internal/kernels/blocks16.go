package kernels

// blockKernel writes rows×16 outputs for nblk consecutive column blocks
// of a packed 16-bit weight layout, starting at block blk, into c with
// leading dimension ldc.
type blockKernel func(nblk, blk int, c []float32, ldc int)

// runBlocks applies kern to column blocks [b0, b1) of the rows×n output
// c (row-major, leading dimension ldc; c starts at the first row's column
// 0). Whole blocks [b0, n/16) are written in place; a last, partial
// block is computed into a stack buffer and only its n mod 16 columns
// are copied out, so kernels always write whole blocks. rows is at most 8.
func runBlocks(rows, n, ldc, b0, b1 int, c []float32, kern blockKernel) {
	const nr = 16
	full := min(b1, n/nr)
	if full > b0 {
		kern(full-b0, b0, c[b0*nr:], ldc)
	}
	if b1 > full {
		var tmp [8 * nr]float32
		kern(1, full, tmp[:rows*nr], nr)
		for r := 0; r < rows; r++ {
			copy(c[r*ldc+full*nr:r*ldc+n], tmp[r*nr:])
		}
	}
}
