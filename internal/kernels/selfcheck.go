package kernels

import "fmt"

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
	return nil
}

// closeEnough compares float32 results of sums of n terms of magnitude
// about 1 computed in different orders.
func closeEnough(got, want float32, n int) bool {
	d := got - want
	if d < 0 {
		d = -d
	}
	return d <= 1e-5*float32(n+1) && got == got
}
