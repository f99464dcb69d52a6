#include "textflag.h"

// func prefetchRow(p *float32, n int)
// Hints the CPU to bring the n floats at p into the caches (PREFETCHT0 on
// every 64-byte line). A hint only: it reads nothing and cannot fault.
TEXT ·prefetchRow(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	SHLQ $2, CX
	ADDQ AX, CX
loop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JLT  loop
	RET
