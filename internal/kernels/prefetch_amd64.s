//go:build !noasm

#include "textflag.h"

// func prefetchAVX2(x []float32)
// PREFETCHT0 of every 64-byte line x spans.
TEXT ·prefetchAVX2(SB), NOSPLIT, $0-24
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	TESTQ CX, CX
	JEQ  pf_done
	LEAQ -4(SI)(CX*4), DI // last element
	ANDQ $-64, SI
pf_loop:
	PREFETCHT0 (SI)
	ADDQ $64, SI
	CMPQ SI, DI
	JLE  pf_loop
pf_done:
	RET
