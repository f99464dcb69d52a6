package kernels

import (
	"fmt"
	"math"
)

// selfCheck runs a level's own kernels on a few small inputs and compares
// them with the generic kernels. It guards the AVX-512 set, which is chosen
// only when this passes: a kernel that computes wrong answers on some CPU
// (or an assembler or emulator problem) then costs speed, not correctness.
func selfCheck(lvl int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	const n = 131 // not a multiple of any vector width; > 2 main-loop trips
	x := make([]float32, n)
	y := make([]float32, n)
	for i := range x {
		x[i] = float32((i*37)%23)/7 - 1.5
		y[i] = float32((i*11)%19)/5 - 1.7
	}
	for _, m := range []int{1, 16, 17, 64, n} {
		got, want := dotL(lvl, x[:m], y), dotGeneric(x[:m], y)
		if !closeEnough(got, want, m) {
			return fmt.Errorf("dot(n=%d) = %g, want %g", m, got, want)
		}
		y1 := append([]float32(nil), y...)
		y2 := append([]float32(nil), y...)
		axpyL(lvl, 0.75, x[:m], y1)
		axpyGeneric(0.75, x[:m], y2)
		for i := range y1 {
			if !closeEnough(y1[i], y2[i], 1) {
				return fmt.Errorf("axpy(n=%d)[%d] = %g, want %g", m, i, y1[i], y2[i])
			}
		}
	}
	// A matrix multiply that exercises full and edge tiles, k unrolled and
	// tail steps, alpha and beta.
	const mm, nn, kk = 13, 70, 11
	a := make([]float32, mm*kk)
	for i := range a {
		a[i] = float32((i*7)%31)/8 - 1.9
	}
	b := make([]float32, kk*nn)
	for i := range b {
		b[i] = float32((i*13)%29)/9 - 1.4
	}
	c1 := make([]float32, mm*nn)
	c2 := make([]float32, mm*nn)
	for i := range c1 {
		c1[i] = float32(i%7) - 3
		c2[i] = c1[i]
	}
	w := new(gemmWork)
	gemmSerial(lvl, w, false, false, mm, nn, kk, 1.5, a, kk, b, nn, 0.5, c1, nn)
	sgemmNaive(false, false, mm, nn, kk, 1.5, a, kk, b, nn, 0.5, c2, nn)
	for i := range c1 {
		if !closeEnough(c1[i], c2[i], kk) {
			return fmt.Errorf("sgemm %dx%dx%d: C[%d] = %g, want %g", mm, nn, kk, i, c1[i], c2[i])
		}
	}
	if err := bfSelfCheck(lvl); err != nil {
		return err
	}
	if err := softmaxSelfCheck(lvl); err != nil {
		return err
	}
	if err := convSelfCheck(lvl); err != nil {
		return err
	}
	if err := groupNormSelfCheck(lvl); err != nil {
		return err
	}
	return f16SelfCheck(lvl)
}

// bfSelfCheck runs a level's bf16-weight kernels (BF16Linear: one row,
// and four rows with AVX-512) on small inputs (k with every tail length,
// two blocks) against the generic ones.
func bfSelfCheck(lvl int) error {
	const nblk = 2
	for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23} {
		a := make([]float32, k)
		for i := range a {
			a[i] = float32((i*7)%31)/8 - 1.9
		}
		b := make([]uint16, nblk*((k+1)&^1)*bfNR)
		for i := range b {
			b[i] = ToBF16(float32((i*13)%29)/9 - 1.4)
		}
		bias := make([]float32, nblk*bfNR)
		for i := range bias {
			bias[i] = float32(i%5) - 2
		}
		c1 := make([]float32, nblk*bfNR)
		c2 := make([]float32, nblk*bfNR)
		bfgemvL(lvl, nblk, k, a, b, bias, c1)
		bfgemv16Generic(nblk, k, a, b, bias, c2)
		for i := range c1 {
			if !closeEnough(c1[i], c2[i], k) {
				return fmt.Errorf("bfgemv16(k=%d): c[%d] = %g, want %g", k, i, c1[i], c2[i])
			}
		}
		if lvl < levelAVX512 {
			continue
		}
		// The four-row kernel: rows k+1 apart, outputs 2 blocks + 3 apart.
		a4 := make([]float32, 4*(k+1))
		for i := range a4 {
			a4[i] = float32((i*5)%17)/6 - 1.3
		}
		const ldc = nblk*bfNR + 3
		m1 := make([]float32, 4*ldc)
		m2 := make([]float32, 4*ldc)
		bfgemm4x16AVX512(nblk, k, a4, k+1, b, bias, m1, ldc)
		bfgemm4x16Generic(nblk, k, a4, k+1, b, bias, m2, ldc)
		for i := range m1 {
			if !closeEnough(m1[i], m2[i], k) {
				return fmt.Errorf("bfgemm4x16(k=%d): c[%d] = %g, want %g", k, i, m1[i], m2[i])
			}
		}
	}
	return nil
}

// f16SelfCheck runs a level's float16-weight kernels (F16Linear: one row,
// and four and eight rows with AVX-512) on small inputs (k with every tail length,
// two blocks; subnormal, negative and largest weights among them) against
// the generic ones, within 2·(k+1)·2⁻²⁴·Σ|terms| (float32 sums in another
// order).
func f16SelfCheck(lvl int) error {
	const nblk = 2
	for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 23} {
		a := make([]float32, 8*(k+1))
		for i := range a {
			a[i] = float32((i*7)%31)/8 - 1.9
		}
		b := make([]uint16, nblk*k*f16NR)
		for i := range b {
			b[i] = ToF16(float32((i*13)%29)/9 - 1.4)
			switch i % 37 {
			case 5:
				b[i] = 0x8001 // -2⁻²⁴, the smallest subnormal
			case 11:
				b[i] = 0x03ff // the largest subnormal
			case 17:
				b[i] = 0xfbff // -65504
			}
		}
		bias := make([]float32, nblk*f16NR)
		for i := range bias {
			bias[i] = float32(i%5) - 2
		}
		// The sums of |terms|, for the tolerance.
		absA, absB, absBias := make([]float32, len(a)), make([]uint16, len(b)), make([]float32, len(bias))
		for i, v := range a {
			absA[i] = abs32(v)
		}
		for i, v := range b {
			absB[i] = v &^ 0x8000
		}
		for i, v := range bias {
			absBias[i] = abs32(v)
		}
		// The four- and eight-row kernels' rows are k+1 apart and their
		// outputs 2 blocks + 3 apart; the one-row kernel gets the first row.
		const ldc = nblk*f16NR + 3
		got := make([]float32, 8*ldc)
		want := make([]float32, 8*ldc)
		tol := make([]float32, 8*ldc)
		f16gemvL(lvl, nblk, k, a, b, bias, got)
		f16gemv16Generic(nblk, k, a, b, bias, want)
		f16gemv16Generic(nblk, k, absA, absB, absBias, tol)
		if err := f16Agree("f16gemv16", k, got[:nblk*f16NR], want, tol); err != nil {
			return err
		}
		if lvl < levelAVX512 {
			continue
		}
		f16gemm4x16AVX512(nblk, k, a, k+1, b, bias, got, ldc)
		f16gemm4x16Generic(nblk, k, a, k+1, b, bias, want, ldc)
		f16gemm4x16Generic(nblk, k, absA, k+1, absB, absBias, tol, ldc)
		if err := f16Agree("f16gemm4x16", k, got[:4*ldc], want, tol); err != nil {
			return err
		}
		f16gemm8x16AVX512(nblk, k, a, k+1, b, bias, got, ldc)
		f16gemm8x16Generic(nblk, k, a, k+1, b, bias, want, ldc)
		f16gemm8x16Generic(nblk, k, absA, k+1, absB, absBias, tol, ldc)
		if err := f16Agree("f16gemm8x16", k, got, want, tol); err != nil {
			return err
		}
	}
	return nil
}

// f16Agree checks |got-want| ≤ 2·(k+1)·2⁻²⁴·abs elementwise.
func f16Agree(what string, k int, got, want, abs []float32) error {
	for i, g := range got {
		if d := abs32(g - want[i]); !(d <= 2*float32(k+1)*0x1p-24*abs[i]) {
			return fmt.Errorf("%s(k=%d): c[%d] = %g, want %g", what, k, i, g, want[i])
		}
	}
	return nil
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// closeEnough compares float32 results of sums of n terms of magnitude
// about 1 computed in different orders.
func closeEnough(got, want float32, n int) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= 1e-5*float32(n+1) && got == got
}

// qSelfCheckVNNI runs the AVX512-VNNI int8 kernels on small inputs (the
// largest products included) and compares them with the generic kernels,
// which they must match exactly. The int8 kernels use VPDPBUSD only when
// this passes.
func qSelfCheckVNNI() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	// kp = 40: the 4-row kernel's 8-k loop runs 5 times, the one-row
	// kernel's 16-k loop twice plus its 8-k tail.
	const kp, groups, nblk = 40, 2, 2
	a := make([]uint8, groups*qMR*kp)
	for i := range a {
		a[i] = uint8((i * 37) % 128)
		if i%11 == 0 {
			a[i] = 127
		}
	}
	b := make([]int8, nblk*kp*qNR)
	for i := range b {
		b[i] = int8((i*53)%255 - 127)
		if i%13 == 0 {
			b[i] = -127
		}
	}
	rp := make([]float32, 2*groups*qMR)
	for i := range rp {
		rp[i] = float32(i%5+1) * 0.25
	}
	cp := make([]float32, nblk*3*qNR)
	for i := range cp {
		cp[i] = float32(i%7+1) * 0.125
	}
	c1 := make([]float32, groups*qMR*qNR)
	c2 := make([]float32, groups*qMR*qNR)
	qgemm4x16VNNI(groups, kp, a, kp, b, rp, cp, c1, qNR)
	qgemm4x16Generic(groups, kp, a, kp, b, rp, cp, c2, qNR)
	for i := range c1 {
		if c1[i] != c2[i] {
			return fmt.Errorf("qgemm4x16: c[%d] = %g, want %g", i, c1[i], c2[i])
		}
	}
	g1 := make([]float32, nblk*qNR)
	g2 := make([]float32, nblk*qNR)
	qgemv16VNNI(nblk, kp, a, b, rp, cp, g1)
	qgemv16Generic(nblk, kp, a, b, rp, cp, g2)
	for i := range g1 {
		if g1[i] != g2[i] {
			return fmt.Errorf("qgemv16: c[%d] = %g, want %g", i, g1[i], g2[i])
		}
	}
	return nil
}

// softmaxSelfCheck runs a level's softmax (its exp kernel over whole vector
// blocks and the tails) on a row of 131 against the generic one.
func softmaxSelfCheck(lvl int) error {
	const n = 131
	x1 := make([]float32, n)
	for i := range x1 {
		x1[i] = float32((i*37)%23)/2 - 6
	}
	x1[5] = -200 // exp underflows: exactly 0
	x2 := append([]float32(nil), x1...)
	softmaxL(lvl, x1, n)
	softmaxL(levelGeneric, x2, n)
	for i := range x1 {
		if !closeEnough(x1[i], x2[i], 8) {
			return fmt.Errorf("softmax(n=%d)[%d] = %g, want %g", n, i, x1[i], x2[i])
		}
	}
	return nil
}
