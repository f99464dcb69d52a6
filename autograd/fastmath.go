package autograd

import "math"

// expf returns e^x in float32 arithmetic: x = n·ln2 + r with |r| <= ln2/2
// (ln2 split in two parts for an exact reduction), e^r by its degree-6
// Taylor polynomial (truncation error below 1.3e-7 relative), scaled by 2^n
// through the exponent bits. It saturates to 0 and +Inf outside the float32
// range.
func expf(x float32) float32 {
	const (
		ln2Hi  = 0.693359375
		ln2Lo  = -2.12194440e-4
		log2e  = 1.44269504088896341
		maxArg = 88.72283905206835
		minArg = -103.97207708
	)
	if x > maxArg {
		return float32(math.Inf(1))
	}
	if x < minArg {
		return 0
	}
	// round to nearest without math.Floor: conversion truncates toward zero
	h := float32(0.5)
	if x < 0 {
		h = -0.5
	}
	n := float32(int32(x*log2e + h))
	r := x - n*ln2Hi - n*ln2Lo
	// e^r = 1 + r + r²/2 + r³/6 + r⁴/24 + r⁵/120 + r⁶/720 on |r| <= 0.35
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	e := int32(n)
	if e < -126 {
		// subnormal result: scale in two steps
		return p * math.Float32frombits(uint32(e+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// tanhf returns tanh(x) in float32 via expf, with absolute error below 3e-7.
func tanhf(x float32) float32 {
	if x > 9 {
		return 1
	}
	if x < -9 {
		return -1
	}
	if x > -0.02 && x < 0.02 {
		// tanh x = x - x³/3 + 2x⁵/15: exact to float32 here, no cancellation
		x2 := x * x
		return x * (1 - x2*(1.0/3-x2*(2.0/15)))
	}
	return 1 - 2/(expf(2*x)+1)
}
