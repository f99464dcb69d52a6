package classify

import (
	"fmt"
	"math"
	"sync"
)

// Model is a fitted multinomial logistic regression.
type Model struct {
	W          [][]float64 // [K][D]
	B          []float64   // [K]
	Iterations int         // L-BFGS iterations run
	Converged  bool        // the gradient tolerance was reached
}

// Train fits a multinomial logistic regression to the rows of X (n × D)
// with labels y in [0, k). Every class must have at least one example.
func Train(X [][]float32, y []int, k int, opts Options) (*Model, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := len(X)
	if n == 0 {
		return nil, fmt.Errorf("classify: no training examples")
	}
	if len(y) != n {
		return nil, fmt.Errorf("classify: %d examples but %d labels", n, len(y))
	}
	if k < 2 {
		return nil, fmt.Errorf("classify: %d class(es); need at least 2", k)
	}
	d := len(X[0])
	if d == 0 {
		return nil, fmt.Errorf("classify: empty feature vectors")
	}
	counts := make([]int, k)
	for i := range X {
		if len(X[i]) != d {
			return nil, fmt.Errorf("classify: example %d has %d features, want %d", i, len(X[i]), d)
		}
		for j, v := range X[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("classify: example %d feature %d is %v", i, j, v)
			}
		}
		if y[i] < 0 || y[i] >= k {
			return nil, fmt.Errorf("classify: example %d has label %d, want [0, %d)", i, y[i], k)
		}
		counts[y[i]]++
	}
	for c, cnt := range counts {
		if cnt == 0 {
			return nil, fmt.Errorf("classify: class %d has no training examples", c)
		}
	}
	sw := make([]float64, n)
	for i := range sw {
		sw[i] = 1
		if opts.ClassWeight == "balanced" {
			sw[i] = float64(n) / float64(k*counts[y[i]])
		}
	}
	var swSum float64
	for _, s := range sw {
		swSum += s
	}
	p := k * (d + 1) // parameters: W row-major, then b
	f := func(theta, grad []float64) float64 {
		return objective(theta, grad, X, y, sw, k, d, 1/opts.C)
	}
	theta := make([]float64, p)
	iters, conv := lbfgs(f, theta, opts.MaxIter, opts.Tol*swSum)
	m := &Model{B: append([]float64(nil), theta[k*d:]...), Iterations: iters, Converged: conv}
	for c := 0; c < k; c++ {
		m.W = append(m.W, append([]float64(nil), theta[c*d:(c+1)*d]...))
	}
	return m, nil
}

// objectiveChunks is the fixed number of row blocks the objective is split
// into; the partial sums are added in block order, so the result does not
// depend on how many goroutines ran them.
const objectiveChunks = 8

// objective returns Σ sᵢ CEᵢ + λ/2 ‖W‖² and writes its gradient.
func objective(theta, grad []float64, X [][]float32, y []int, sw []float64, k, d int, lambda float64) float64 {
	n := len(X)
	chunks := min(objectiveChunks, n)
	if n < 256 {
		chunks = 1
	}
	losses := make([]float64, chunks)
	grads := make([][]float64, chunks)
	grads[0] = grad
	var wg sync.WaitGroup
	for c := 0; c < chunks; c++ {
		if c > 0 {
			grads[c] = make([]float64, len(grad))
		}
		lo, hi := c*n/chunks, (c+1)*n/chunks
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			losses[c] = partialObjective(theta, grads[c], X[lo:hi], y[lo:hi], sw[lo:hi], k, d)
		}(c)
	}
	wg.Wait()
	loss := losses[0]
	for c := 1; c < chunks; c++ {
		loss += losses[c]
		for i, g := range grads[c] {
			grad[i] += g
		}
	}
	W, gW := theta[:k*d], grad[:k*d]
	for j, w := range W {
		loss += 0.5 * lambda * w * w
		gW[j] += lambda * w
	}
	return loss
}

// partialObjective writes the data term's loss and gradient over some rows.
func partialObjective(theta, grad []float64, X [][]float32, y []int, sw []float64, k, d int) float64 {
	clear(grad)
	W, b := theta[:k*d], theta[k*d:]
	gW, gb := grad[:k*d], grad[k*d:]
	z := make([]float64, k)
	var loss float64
	for i, x := range X {
		mx := math.Inf(-1)
		for c := 0; c < k; c++ {
			s := b[c]
			w := W[c*d : (c+1)*d]
			for j, v := range x {
				s += w[j] * float64(v)
			}
			z[c] = s
			mx = math.Max(mx, s)
		}
		var sum float64
		for c := range z {
			z[c] = math.Exp(z[c] - mx)
			sum += z[c]
		}
		// loss = -log p_y = log Σ exp - (z_y - mx)
		loss += sw[i] * (math.Log(sum) - math.Log(z[y[i]]))
		for c := 0; c < k; c++ {
			g := z[c] / sum
			if c == y[i] {
				g--
			}
			g *= sw[i]
			gb[c] += g
			gw := gW[c*d : (c+1)*d]
			for j, v := range x {
				gw[j] += g * float64(v)
			}
		}
	}
	return loss
}

// lbfgs minimises f from x in place (limited-memory BFGS, memory 10,
// backtracking Armijo line search). It returns the iterations run and
// whether max|∇f| fell below gtol.
func lbfgs(f func(x, g []float64) float64, x []float64, maxIter int, gtol float64) (int, bool) {
	const mem = 10
	n := len(x)
	g := make([]float64, n)
	fx := f(x, g)
	var S, Y [][]float64
	var rho []float64
	dir := make([]float64, n)
	xn := make([]float64, n)
	gn := make([]float64, n)
	alpha := make([]float64, mem)
	for it := 0; it < maxIter; it++ {
		if maxAbs(g) < gtol {
			return it, true
		}
		// Two-loop recursion: dir = -H g.
		copy(dir, g)
		for i := len(S) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(S[i], dir)
			axpy(-alpha[i], Y[i], dir)
		}
		gamma := 1.0
		if len(S) > 0 {
			l := len(S) - 1
			gamma = dot(S[l], Y[l]) / dot(Y[l], Y[l])
		} else if gn := maxAbs(g); gn > 0 {
			gamma = 1 / gn // a first step of unit max-norm
		}
		for i := range dir {
			dir[i] *= gamma
		}
		for i := range S {
			beta := rho[i] * dot(Y[i], dir)
			axpy(alpha[i]-beta, S[i], dir)
		}
		for i := range dir {
			dir[i] = -dir[i]
		}
		slope := dot(g, dir)
		if slope >= 0 { // not a descent direction: restart from steepest descent
			S, Y, rho = nil, nil, nil
			for i := range dir {
				dir[i] = -g[i]
			}
			slope = dot(g, dir)
		}
		step := 1.0
		var fn float64
		ok := false
		for ls := 0; ls < 60; ls++ {
			for i := range x {
				xn[i] = x[i] + step*dir[i]
			}
			fn = f(xn, gn)
			if fn <= fx+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			return it, maxAbs(g) < gtol
		}
		s := make([]float64, n)
		yv := make([]float64, n)
		for i := range x {
			s[i] = xn[i] - x[i]
			yv[i] = gn[i] - g[i]
		}
		copy(x, xn)
		copy(g, gn)
		improvement := fx - fn
		fx = fn
		if sy := dot(s, yv); sy > 1e-12 {
			if len(S) == mem {
				S, Y, rho = S[1:], Y[1:], rho[1:]
			}
			S, Y, rho = append(S, s), append(Y, yv), append(rho, 1/sy)
		}
		if improvement <= 1e-15*math.Max(1, math.Abs(fx)) && maxAbs(g) < 1e3*gtol {
			return it + 1, maxAbs(g) < gtol
		}
	}
	return maxIter, maxAbs(g) < gtol
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}

// Probabilities returns softmax(W x + b).
func (m *Model) Probabilities(x []float32) []float64 {
	k := len(m.B)
	z := make([]float64, k)
	mx := math.Inf(-1)
	for c := 0; c < k; c++ {
		s := m.B[c]
		for j, v := range x {
			s += m.W[c][j] * float64(v)
		}
		z[c] = s
		mx = math.Max(mx, s)
	}
	var sum float64
	for c := range z {
		z[c] = math.Exp(z[c] - mx)
		sum += z[c]
	}
	for c := range z {
		z[c] /= sum
	}
	return z
}
