package encdec

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Linear computes dst = src·Wᵀ (+ bias when bias is not nil) for rows
// rows: src is [rows, in], W is nn.Linear's [out, in], dst is [rows, out].
func Linear(dst, src []float32, rows, in, out int, W, bias []float32) {
	if bias == nil {
		kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 0, dst, out)
		return
	}
	for r := range rows {
		copy(dst[r*out:(r+1)*out], bias)
	}
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 1, dst, out)
}

// Activate applies act to x in place: "gelu" (erf form), "gelu_new" (tanh
// form), "relu" or "silu"; any other name leaves x as it is (configs are
// checked when parsed).
func Activate(act string, x []float32) {
	switch act {
	case "gelu":
		kernels.GeluErf(x, x)
	case "gelu_new":
		kernels.GeluTanh(x, x)
	case "relu":
		pointwise(x, relu)
	case "silu":
		pointwise(x, silu)
	}
}

// parallelPointwise is the length from which pointwise splits x across
// threads (a decoding step's few thousand values stay on one thread, with
// no closure allocated).
const parallelPointwise = 1 << 15

// pointwise applies f to x, split across threads when x is long.
func pointwise(x []float32, f func([]float32)) {
	if len(x) < parallelPointwise {
		f(x)
		return
	}
	kernels.Parallel(len(x), 4096, func(lo, hi int) { f(x[lo:hi]) })
}

func relu(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

// silu computes x·sigmoid(x) (swish) in place, as torch's silu does in
// float32 up to rounding.
func silu(x []float32) {
	for i, v := range x {
		x[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

// CheckIDs validates token ids against a vocabulary; the error names the
// package, what holds them (what b) and the bad id.
func CheckIDs(pkg, what string, b int, ids []int, vocab int) error {
	for _, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("%s: %s %d: token id %d out of range [0, %d)", pkg, what, b, id, vocab)
		}
	}
	return nil
}
