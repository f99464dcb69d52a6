package autograd

import (
	"math"
	"testing"
)

func TestExpfTanhf(t *testing.T) {
	for x := float32(-100); x <= 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
		if want > 1e-37 && math.Abs(got-want) > 3e-7*want {
			t.Fatalf("expf(%g) = %g, want %g", x, got, want)
		}
	}
	for x := float32(-12); x <= 12; x += 0.000713 {
		want := math.Tanh(float64(x))
		if got := float64(tanhf(x)); math.Abs(got-want) > 3e-7 {
			t.Fatalf("tanhf(%g) = %g, want %g (diff %g)", x, got, want, got-want)
		}
	}
	if !math.IsInf(float64(expf(100)), 1) || expf(-200) != 0 {
		t.Fatal("expf does not saturate")
	}
}

func BenchmarkGeluTanhBackward(b *testing.B) {
	n := 1 << 16
	x, d, g := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%2000)/250 - 4
		d[i] = 1
	}
	b.SetBytes(int64(4 * n))
	for i := 0; i < b.N; i++ {
		GeluTanhBackward(g, x, d)
	}
}
