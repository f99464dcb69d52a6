package kernels

// blockKernel names one of the kernels of the 16-bit weight layouts that
// runBlocks can call.
type blockKernel int

const (
	bfDot8   blockKernel = iota // bfdot8x16AVX512BF16: eight bf16-rounded rows
	bfGemm4                     // bfgemm4x16AVX512: four rows
	bfGemv                      // bfgemvL: one row
	f16Gemm8                    // f16gemm8x16AVX512: eight rows
	f16Gemm4                    // f16gemm4x16AVX512: four rows
	f16Gemv                     // f16gemvL: one row
)

// blockCall is one kernel call's operands but the column blocks: rows of
// activations a (lda apart) times packed weights b (each block kp·16
// values) plus bias. A concrete type rather than a closure, so that the
// stack buffer runBlocks hands it does not escape to the heap.
type blockCall struct {
	kern   blockKernel
	lvl    int // kernel level, for the one-row kernels
	k, kp  int // the activations' length; a block's packed length per column
	a      []float32
	abf    []uint16 // bfDot8: the activations rounded to bf16
	lda    int
	b      []uint16
	bias   []float32
	blockN int // values per packed block: kp·16
}

// run writes the rows×16 outputs of nblk column blocks from block blk
// into c (leading dimension ldc).
func (bc *blockCall) run(nblk, blk int, c []float32, ldc int) {
	b := bc.b[blk*bc.blockN : (blk+nblk)*bc.blockN]
	bias := bc.bias[blk*16 : (blk+nblk)*16]
	switch bc.kern {
	case bfDot8:
		bfdot8x16AVX512BF16(nblk, bc.kp, bc.abf, bc.lda, b, bias, c, ldc)
	case bfGemm4:
		bfgemm4x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case bfGemv:
		bfgemvL(bc.lvl, nblk, bc.k, bc.a, b, bias, c[:nblk*16])
	case f16Gemm8:
		f16gemm8x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case f16Gemm4:
		f16gemm4x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case f16Gemv:
		f16gemvL(bc.lvl, nblk, bc.k, bc.a, b, bias, c[:nblk*16])
	}
}

// runBlocks applies bc to column blocks [b0, b1) of the rows×n output c
// (row-major, leading dimension ldc; c starts at the first row's column
// 0). Whole blocks [b0, n/16) are written in place; a last, partial block
// is computed into a stack buffer and only its n mod 16 columns are
// copied out, so kernels always write whole blocks. rows is at most 8.
func runBlocks(rows, n, ldc, b0, b1 int, c []float32, bc *blockCall) {
	const nr = 16
	full := min(b1, n/nr)
	if full > b0 {
		bc.run(full-b0, b0, c[b0*nr:], ldc)
	}
	if b1 > full {
		var tmp [8 * nr]float32
		bc.run(1, full, tmp[:rows*nr], nr)
		for r := 0; r < rows; r++ {
			copy(c[r*ldc+full*nr:r*ldc+n], tmp[r*nr:])
		}
	}
}
