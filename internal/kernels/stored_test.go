package kernels

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestQLinearInt8RoundTrip: a QLinear rebuilt by NewQLinearInt8 from what
// Int8 returns is identical to the one NewQLinear made (packed weights,
// scales, sums and bias), for both weight precisions, shapes with partial
// blocks and k tails, a zero row (scale 0) and no bias; Row dequantizes
// to s·w_q.
func TestQLinearInt8RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, bits := range []int{QInt8, QInt7} {
		for _, n := range qShapes {
			for _, k := range qShapes {
				for _, withBias := range []bool{true, false} {
					w := make([]float32, n*k)
					for i := range w {
						w[i] = rng.Float32()*2 - 1
					}
					if n > 2 {
						clear(w[k : 2*k]) // row 1 all zero: scale 0
					}
					var bias []float32
					if withBias {
						bias = make([]float32, n)
						for i := range bias {
							bias[i] = rng.Float32() - 0.5
						}
					}
					q := NewQLinear(w, bias, n, k, bits)
					wq, s := q.Int8()
					if len(wq) != n*k || len(s) != n {
						t.Fatalf("Int8: %d values and %d scales, want %d and %d", len(wq), len(s), n*k, n)
					}
					q2, err := NewQLinearInt8(wq, s, bias, n, k, bits)
					if err != nil {
						t.Fatalf("bits %d n %d k %d: %v", bits, n, k, err)
					}
					if !reflect.DeepEqual(q, q2) {
						t.Fatalf("bits %d n %d k %d bias %v: the rebuilt layer differs", bits, n, k, withBias)
					}
					row := make([]float32, k)
					for j := 0; j < n; j++ {
						q.Row(j, row)
						for p, v := range row {
							if want := float32(wq[j*k+p]) * s[j]; v != want {
								t.Fatalf("Row(%d)[%d] = %v, want %v", j, p, v, want)
							}
							if d := math.Abs(float64(v - w[j*k+p])); d > float64(s[j])/2*1.0001 {
								t.Fatalf("Row(%d)[%d] = %v is %g from the weight %v (scale %v)", j, p, v, d, w[j*k+p], s[j])
							}
						}
					}
				}
			}
		}
	}
}

// TestQLinearInt8Errors: bad scales and values out of range are errors
// naming the row (and column), not panics.
func TestQLinearInt8Errors(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		name   string
		w      []int8
		scales []float32
		bits   int
		want   string
	}{
		{"nan scale", []int8{1, 2, 3, 4}, []float32{1, nan}, QInt8, "row 1: scale NaN"},
		{"inf scale", []int8{1, 2, 3, 4}, []float32{inf, 1}, QInt8, "row 0: scale +Inf"},
		{"negative scale", []int8{1, 2, 3, 4}, []float32{1, -0.5}, QInt8, "row 1: scale -0.5"},
		{"-128", []int8{1, -128, 3, 4}, []float32{1, 1}, QInt8, "row 0, column 1: value -128 outside [-127, 127]"},
		{"7-bit", []int8{1, 2, 64, 4}, []float32{1, 1}, QInt7, "row 1, column 0: value 64 outside [-63, 63]"},
	} {
		_, err := NewQLinearInt8(c.w, c.scales, nil, 2, 2, c.bits)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestBF16LinearBitsRoundTrip: a BF16Linear rebuilt by NewBF16LinearBits
// from Bits is identical to NewBF16Linear's, and Row widens the rounded
// weights.
func TestBF16LinearBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range qShapes {
		for _, k := range qShapes {
			for _, withBias := range []bool{true, false} {
				w := make([]float32, n*k)
				for i := range w {
					w[i] = rng.Float32()*2 - 1
				}
				var bias []float32
				if withBias {
					bias = make([]float32, n)
					for i := range bias {
						bias[i] = rng.Float32()
					}
				}
				l := NewBF16Linear(w, bias, n, k)
				bits := l.Bits()
				if len(bits) != n*k {
					t.Fatalf("Bits: %d values, want %d", len(bits), n*k)
				}
				if l2 := NewBF16LinearBits(bits, bias, n, k); !reflect.DeepEqual(l, l2) {
					t.Fatalf("n %d k %d bias %v: the rebuilt layer differs", n, k, withBias)
				}
				row := make([]float32, k)
				for j := 0; j < n; j++ {
					l.Row(j, row)
					for p, v := range row {
						if want := FromBF16(ToBF16(w[j*k+p])); v != want || bits[j*k+p] != ToBF16(w[j*k+p]) {
							t.Fatalf("Row(%d)[%d] = %v (bits %#04x), want %v", j, p, v, bits[j*k+p], want)
						}
					}
				}
			}
		}
	}
}
