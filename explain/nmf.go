package explain

import (
	"fmt"
	"math"
	"math/rand"
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
// "random" init. It returns the relative reconstruction error.
func NMF(x []float64, rows, cols, k int, seed int64, iters int) (w, h []float64, relErr float64, err error) {
	if k < 1 {
		return nil, nil, 0, fmt.Errorf("explain: NMF needs at least 1 component, got %d", k)
	}
	if rows < 1 || cols < 1 || len(x) != rows*cols {
		return nil, nil, 0, fmt.Errorf("explain: NMF input is %d values, want %d×%d", len(x), rows, cols)
	}
	var mean, norm2 float64
	for _, v := range x {
		if v < 0 {
			return nil, nil, 0, fmt.Errorf("explain: NMF input has negative value %g", v)
		}
		mean += v
		norm2 += v * v
	}
	mean /= float64(len(x))
	r := rand.New(rand.NewSource(seed))
	scale := math.Sqrt(mean / float64(k))
	w, h = make([]float64, rows*k), make([]float64, k*cols)
	for i := range w {
		w[i] = scale * math.Abs(r.NormFloat64())
	}
	for i := range h {
		h[i] = scale * math.Abs(r.NormFloat64())
	}
	const tiny = 1e-12
	wtx := make([]float64, k*cols)
	wtw := make([]float64, k*k)
	xht := make([]float64, rows*k)
	hht := make([]float64, k*k)
	for it := 0; it < iters; it++ {
		// H ← H ⊙ (WᵀX) / (WᵀW H)
		clear(wtx)
		for i := 0; i < rows; i++ {
			for a := 0; a < k; a++ {
				wa := w[i*k+a]
				if wa == 0 {
					continue
				}
				xr, hr := x[i*cols:(i+1)*cols], wtx[a*cols:(a+1)*cols]
				for j, v := range xr {
					hr[j] += wa * v
				}
			}
		}
		gram(wtw, w, rows, k)
		for a := 0; a < k; a++ {
			for j := 0; j < cols; j++ {
				var d float64
				for b := 0; b < k; b++ {
					d += wtw[a*k+b] * h[b*cols+j]
				}
				h[a*cols+j] *= wtx[a*cols+j] / (d + tiny)
			}
		}
		// W ← W ⊙ (XHᵀ) / (W HHᵀ)
		for i := 0; i < rows; i++ {
			xr := x[i*cols : (i+1)*cols]
			for a := 0; a < k; a++ {
				var s float64
				hr := h[a*cols : (a+1)*cols]
				for j, v := range xr {
					s += v * hr[j]
				}
				xht[i*k+a] = s
			}
		}
		for a := 0; a < k; a++ {
			for b := 0; b < k; b++ {
				var s float64
				ha, hb := h[a*cols:(a+1)*cols], h[b*cols:(b+1)*cols]
				for j := range ha {
					s += ha[j] * hb[j]
				}
				hht[a*k+b] = s
			}
		}
		for i := 0; i < rows; i++ {
			for a := 0; a < k; a++ {
				var d float64
				for b := 0; b < k; b++ {
					d += w[i*k+b] * hht[b*k+a]
				}
				w[i*k+a] *= xht[i*k+a] / (d + tiny)
			}
		}
	}
	var e2 float64
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var s float64
			for a := 0; a < k; a++ {
				s += w[i*k+a] * h[a*cols+j]
			}
			d := x[i*cols+j] - s
			e2 += d * d
		}
	}
	if norm2 > 0 {
		relErr = math.Sqrt(e2 / norm2)
	}
	return w, h, relErr, nil
}

// gram computes g = aᵀa for a (rows×k).
func gram(g, a []float64, rows, k int) {
	clear(g)
	for i := 0; i < rows; i++ {
		r := a[i*k : (i+1)*k]
		for p, vp := range r {
			if vp == 0 {
				continue
			}
			for q, vq := range r {
				g[p*k+q] += vp * vq
			}
		}
	}
}
