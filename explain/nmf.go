package explain

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/loupe-ml/loupe/autograd"
)

// NMFResult is a non-negative factorisation of MLP neuron activations:
// X (positions × neurons, negatives clipped to 0) ≈ W·H with K factors.
type NMFResult struct {
	FromLayer  int   `json:"from_layer"`
	ToLayer    int   `json:"to_layer"` // inclusive
	Components int   `json:"components"`
	Seed       int64 `json:"seed"`
	Iterations int   `json:"iterations"`
	// RelError is ‖X − WH‖_F / ‖X‖_F.
	RelError float64 `json:"reconstruction_error"`
	// Factors[k][t] is factor k's activation at token position t (W transposed):
	// the sparkline Ecco draws.
	Factors [][]float64 `json:"factors"`
	// TopNeurons[k] lists the neurons loading most on factor k.
	TopNeurons [][]NeuronLoading `json:"top_neurons"`
}

// NeuronLoading is one neuron's weight in a factor.
type NeuronLoading struct {
	Layer  int     `json:"layer"`
	Neuron int     `json:"neuron"`
	Weight float64 `json:"weight"`
}

// NMF factorises the non-negative matrix x (rows×cols, row-major) into
// w (rows×k) and h (k×cols) with Lee and Seung's multiplicative updates for
// the Frobenius norm, from a seeded random start scaled like scikit-learn's
// "random" init. The products are float32 matrix multiplies; the
// reconstruction error is accumulated in float64 and returned relative to
// ‖x‖_F. Like scikit-learn it stops early, after at most iters iterations,
// once ten iterations improve the squared error by less than 1e-4 of the
// first measured error; done is the number of iterations run.
func NMF(x []float32, rows, cols, k int, seed int64, iters int) (w, h []float32, done int, relErr float64, err error) {
	if k < 1 {
		return nil, nil, 0, 0, fmt.Errorf("explain: NMF needs at least 1 component, got %d", k)
	}
	if rows < 1 || cols < 1 || len(x) != rows*cols {
		return nil, nil, 0, 0, fmt.Errorf("explain: NMF input is %d values, want %d×%d", len(x), rows, cols)
	}
	var mean, norm2 float64
	for _, v := range x {
		if v < 0 || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, 0, 0, fmt.Errorf("explain: NMF input has value %g; want finite non-negative values", v)
		}
		mean += float64(v)
		norm2 += float64(v) * float64(v)
	}
	mean /= float64(len(x))
	r := rand.New(rand.NewSource(seed))
	scale := math.Sqrt(mean / float64(k))
	w, h = make([]float32, rows*k), make([]float32, k*cols)
	for i := range w {
		w[i] = float32(scale * math.Abs(r.NormFloat64()))
	}
	for i := range h {
		h[i] = float32(scale * math.Abs(r.NormFloat64()))
	}
	const tiny, tol = 1e-12, 1e-4
	init, prev := -1.0, math.Inf(1)
	wt := make([]float32, k*rows)
	wtx := make([]float32, k*cols)
	wtw := make([]float32, k*k)
	wtwh := make([]float32, k*cols)
	xht := make([]float32, rows*k)
	hht := make([]float32, k*k)
	whht := make([]float32, rows*k)
	for it := 0; it < iters; it++ {
		// H ← H ⊙ (WᵀX) / (WᵀW H)
		for i := 0; i < rows; i++ {
			for a := 0; a < k; a++ {
				wt[a*rows+i] = w[i*k+a]
			}
		}
		autograd.MatmulForward(wtx, wt, x, nil, k, rows, cols)
		autograd.LinearTForward(wtw, wt, wt, k, rows, k)
		autograd.MatmulForward(wtwh, wtw, h, nil, k, k, cols)
		for j := range h {
			h[j] *= wtx[j] / (wtwh[j] + tiny)
		}
		// W ← W ⊙ (XHᵀ) / (W HHᵀ)
		autograd.LinearTForward(xht, x, h, rows, cols, k)
		autograd.LinearTForward(hht, h, h, k, cols, k)
		autograd.MatmulForward(whht, w, hht, nil, rows, k, k)
		for j := range w {
			w[j] *= xht[j] / (whht[j] + tiny)
		}
		done = it + 1
		if done%10 == 0 || done == iters {
			// ‖X−WH‖² = ‖X‖² − 2⟨W, XHᵀ⟩ + ⟨WᵀW, HHᵀ⟩ (XHᵀ and HHᵀ are for the current H)
			e := frobError(norm2, w, xht, hht, rows, k)
			if init < 0 {
				init = e
			} else if init > 0 && (prev-e)/init < tol {
				prev = e
				break
			}
			prev = e
		}
	}
	if norm2 > 0 {
		relErr = math.Sqrt(max(prev, 0) / norm2)
	}
	return w, h, done, relErr, nil
}

// frobError returns ‖X−WH‖²_F from ‖X‖², W (rows×k), XHᵀ and HHᵀ.
func frobError(norm2 float64, w, xht, hht []float32, rows, k int) float64 {
	e := norm2
	for j := range w {
		e -= 2 * float64(w[j]) * float64(xht[j])
	}
	for a := 0; a < k; a++ {
		for b := 0; b < k; b++ {
			var wtw float64
			for i := 0; i < rows; i++ {
				wtw += float64(w[i*k+a]) * float64(w[i*k+b])
			}
			e += wtw * float64(hht[a*k+b])
		}
	}
	return e
}
