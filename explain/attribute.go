package explain

import (
	"context"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// Target says which scalar of the output an attribution explains.
type Target int

const (
	// TargetProb is the softmax probability of the token (Ecco's choice).
	TargetProb Target = iota
	// TargetLogit is the token's logit.
	TargetLogit
)

// segment asks for the gradient of one target: the output at position Len-1
// of forward sequence Seq, for token Token, scaled by Weight. Positions past
// Len-1 do not influence it, so only the first Len rows take part.
type segment struct {
	Seq, Len, Token int
	Weight          float32
}

// targetValues returns, for each segment, the target's value and the
// gradient of the target with respect to the logits ([S, V]).
func targetValues(p *gpt2.Pass, segs []segment, tgt Target) (vals []float64, dlogits []float32) {
	rows := make([]int, len(segs))
	for i, s := range segs {
		rows[i] = s.Seq*p.T + s.Len - 1
	}
	logits := p.Logits(rows)
	V := len(logits) / max(len(segs), 1)
	vals = make([]float64, len(segs))
	dlogits = make([]float32, len(segs)*V)
	for i, s := range segs {
		vals[i] = TargetGradient(dlogits[i*V:(i+1)*V], logits[i*V:(i+1)*V], s.Token, tgt, s.Weight)
	}
	return vals, dlogits
}

// inputGradients returns d target / d input embeddings for each segment,
// stacked as [ΣLen, C], through model/gpt2's backward pass (no weight
// gradients).
func inputGradients(p *gpt2.Pass, segs []segment, dlogits []float32) ([]float32, error) {
	seeds := make([]gpt2.Seed, len(segs))
	for i, s := range segs {
		seeds[i] = gpt2.Seed{Seq: s.Seq, Len: s.Len}
	}
	return p.Backward(seeds, dlogits, nil)
}

// Attribution method names, as Ecco names them.
const (
	MethodGradient    = "gradient"
	MethodGradXInput  = "grad_x_input"
	MethodIntegrated  = "integrated_gradients"
	defaultIGSteps    = 20
	defaultMaxRows    = 1024
	defaultMaxFwdRows = 512
)

// Methods lists the attribution methods explain implements.
var Methods = []string{MethodGradXInput, MethodGradient, MethodIntegrated}

// AttributionOptions configures Attribute. The zero value computes
// grad_x_input for the chosen token's probability.
type AttributionOptions struct {
	Methods []string // default: grad_x_input
	Target  Target   // TargetProb (Ecco) or TargetLogit
	IGSteps int      // integrated-gradients steps (Gauss-Legendre nodes); default 20
	// MaxRows bounds the rows (positions) in one batched forward or backward
	// pass, trading speed for memory; default 1024 backward, 512 forward.
	MaxRows int
	// Context, if not nil, is checked between batches: when it is done,
	// Attribute stops and returns its error.
	Context context.Context
}

// IGCheck reports integrated gradients' completeness for one output token:
// the attributions should sum to F(input) - F(baseline).
type IGCheck struct {
	Sum    float64 `json:"sum"`
	Delta  float64 `json:"delta"`
	AbsErr float64 `json:"abs_error"`
	RelErr float64 `json:"rel_error"`
}

// Attributions holds, for every generated token, a score for each earlier
// token (prompt and earlier generated tokens), normalised to sum to 1.
type Attributions struct {
	// Scores[method][i] has promptLen+i scores for generated token i.
	Scores map[string][][]float64
	// Target[i] is the explained value (probability or logit) of generated token i.
	Target []float64
	// Completeness has one entry per generated token when integrated
	// gradients ran.
	Completeness []IGCheck
}

// Attribute explains each token ids[i], i >= promptLen, by the tokens before
// it: the gradient of its probability (or logit) at position i-1 with
// respect to the input embeddings of positions 0..i-1. All generated tokens
// share one forward pass of model/gpt2's differentiable pass (attention is
// causal, so a prefix's activations are the first rows of the full
// sequence's) and one batched backward.
func Attribute(m *gpt2.Model, ids []int, promptLen int, opt AttributionOptions) (*Attributions, error) {
	if promptLen < 1 || promptLen > len(ids) {
		return nil, fmt.Errorf("explain: prompt length %d outside 1..%d tokens", promptLen, len(ids))
	}
	if err := opt.check(); err != nil {
		return nil, err
	}
	methods := opt.Methods
	if len(methods) == 0 {
		methods = []string{MethodGradXInput}
	}
	steps := opt.IGSteps
	if steps == 0 {
		steps = defaultIGSteps
	}
	maxRows, maxFwd := opt.MaxRows, opt.MaxRows
	if maxRows <= 0 {
		maxRows, maxFwd = defaultMaxRows, defaultMaxFwdRows
	}
	if len(ids) > m.Config.NPositions {
		return nil, fmt.Errorf("explain: %d tokens exceed the model's %d positions", len(ids), m.Config.NPositions)
	}
	x, err := m.Embed(ids)
	if err != nil {
		return nil, fmt.Errorf("explain: %w", err)
	}
	C := m.Config.NEmbd
	T := len(ids) - 1 // the last token is never an input
	G := len(ids) - promptLen
	res := &Attributions{Scores: map[string][][]float64{}, Target: make([]float64, G)}
	if G == 0 {
		for _, m := range methods {
			res.Scores[m] = [][]float64{}
		}
		return res, nil
	}
	x = x[:T*C]
	targets := make([]segment, G)
	for i := range targets {
		targets[i] = segment{Seq: 0, Len: promptLen + i, Token: ids[promptLen+i], Weight: 1}
	}
	want := map[string]bool{}
	for _, m := range methods {
		want[m] = true
	}
	{ // The plain gradients also give the target values IG's check needs.
		p, err := m.ForwardPass(x, 1, T, gpt2.PassOptions{})
		if err != nil {
			return nil, err
		}
		grads := make([][]float32, G)
		for _, ch := range chunkSegments(targets, maxRows) {
			if err := ctxErr(opt.Context); err != nil {
				return nil, err
			}
			vals, dl := targetValues(p, ch.segs, opt.Target)
			g, err := inputGradients(p, ch.segs, dl)
			if err != nil {
				return nil, err
			}
			off := 0
			for k, s := range ch.segs {
				i := ch.first + k
				res.Target[i] = vals[k]
				grads[i] = g[off*C : (off+s.Len)*C]
				off += s.Len
			}
		}
		if want[MethodGradient] {
			res.Scores[MethodGradient] = make([][]float64, G)
			for i, g := range grads {
				res.Scores[MethodGradient][i] = normalisedNorms(g, nil, C)
			}
		}
		if want[MethodGradXInput] {
			res.Scores[MethodGradXInput] = make([][]float64, G)
			for i, g := range grads {
				res.Scores[MethodGradXInput][i] = normalisedNorms(g, x, C)
			}
		}
	}
	if want[MethodIntegrated] {
		if err := integratedGradients(opt.Context, m, res, x, T, targets, steps, opt.Target, maxRows, maxFwd); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// integratedGradients fills res with integrated gradients from a zero
// baseline: attr = x ⊙ Σ_k w_k ∇F(α_k x), with Captum's default
// Gauss-Legendre nodes α_k and weights w_k on [0, 1]. The steps run as a
// batch of interpolated sequences; every generated token's target reads its
// prefix of each interpolated sequence.
func integratedGradients(ctx context.Context, m *gpt2.Model, res *Attributions, x []float32, T int, targets []segment, steps int, tgt Target, maxRows, maxFwd int) error {
	C := m.Config.NEmbd
	G := len(targets)
	alphas, weights := GaussLegendre(steps)
	total := make([][]float32, G)
	for i, s := range targets {
		total[i] = make([]float32, s.Len*C)
	}
	per := maxFwd / T
	if per < 1 {
		per = 1
	}
	for k0 := 0; k0 < steps; k0 += per {
		k1 := min(k0+per, steps)
		B := k1 - k0
		xs := make([]float32, B*T*C)
		for b := 0; b < B; b++ {
			a := float32(alphas[k0+b])
			for j, v := range x {
				xs[b*T*C+j] = a * v
			}
		}
		p, err := m.ForwardPass(xs, B, T, gpt2.PassOptions{})
		if err != nil {
			return err
		}
		var segs []segment
		var owner []int
		for b := 0; b < B; b++ {
			for i, s := range targets {
				segs = append(segs, segment{Seq: b, Len: s.Len, Token: s.Token, Weight: float32(weights[k0+b])})
				owner = append(owner, i)
			}
		}
		for _, ch := range chunkSegments(segs, maxRows) {
			if err := ctxErr(ctx); err != nil {
				return err
			}
			_, dl := targetValues(p, ch.segs, tgt)
			g, err := inputGradients(p, ch.segs, dl)
			if err != nil {
				return err
			}
			off := 0
			for k, s := range ch.segs {
				acc := total[owner[ch.first+k]]
				for j := range acc {
					acc[j] += g[off*C+j]
				}
				off += s.Len
			}
		}
	}
	// F(baseline): the targets on all-zero token embeddings.
	zero, err := m.ForwardPass(make([]float32, T*C), 1, T, gpt2.PassOptions{})
	if err != nil {
		return err
	}
	base, _ := targetValues(zero, targets, tgt)
	res.Scores[MethodIntegrated] = make([][]float64, G)
	res.Completeness = make([]IGCheck, G)
	for i, s := range targets {
		attr := make([]float32, s.Len*C)
		var sum float64
		for j := range attr {
			attr[j] = total[i][j] * x[j]
			sum += float64(attr[j])
		}
		res.Scores[MethodIntegrated][i] = normalisedNorms(attr, nil, C)
		delta := res.Target[i] - base[i]
		c := IGCheck{Sum: sum, Delta: delta, AbsErr: math.Abs(sum - delta)}
		if delta != 0 {
			c.RelErr = c.AbsErr / math.Abs(delta)
		}
		res.Completeness[i] = c
	}
	return nil
}

// ctxErr is ctx.Err(), or nil for a nil context.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

type segChunk struct {
	first int
	segs  []segment
}

// chunkSegments splits segs into runs whose total length is at most maxRows
// (a single longer segment gets a run of its own).
func chunkSegments(segs []segment, maxRows int) []segChunk {
	var out []segChunk
	start, rows := 0, 0
	for i, s := range segs {
		if i > start && rows+s.Len > maxRows {
			out = append(out, segChunk{first: start, segs: segs[start:i]})
			start, rows = i, 0
		}
		rows += s.Len
	}
	if start < len(segs) {
		out = append(out, segChunk{first: start, segs: segs[start:]})
	}
	return out
}

// normalisedNorms returns the L2 norm of each c-wide row of g (or of g⊙x
// when x is not nil), divided by their sum, as Ecco normalises attributions.
func normalisedNorms(g, x []float32, c int) []float64 {
	rows := len(g) / c
	out := make([]float64, rows)
	var sum float64
	for r := 0; r < rows; r++ {
		var s float64
		for j := r * c; j < (r+1)*c; j++ {
			v := float64(g[j])
			if x != nil {
				v *= float64(x[j])
			}
			s += v * v
		}
		out[r] = math.Sqrt(s)
		sum += out[r]
	}
	if sum > 0 {
		for r := range out {
			out[r] /= sum
		}
	}
	return out
}

// GaussLegendre returns the n Gauss-Legendre nodes and weights mapped from
// [-1, 1] to [0, 1] (Captum's default integration rule for integrated
// gradients): ∫₀¹ f ≈ Σ w_k f(α_k). Nodes are in increasing order.
func GaussLegendre(n int) (alphas, weights []float64) {
	alphas, weights = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		// Initial guess for the i-th root of P_n (largest first), then Newton.
		z := math.Cos(math.Pi * (float64(i) + 0.75) / (float64(n) + 0.5))
		var dp float64
		for iter := 0; iter < 100; iter++ {
			p0, p1 := 1.0, z
			for k := 2; k <= n; k++ {
				p0, p1 = p1, ((2*float64(k)-1)*z*p1-(float64(k)-1)*p0)/float64(k)
			}
			// p1 = P_n(z), p0 = P_{n-1}(z)
			dp = float64(n) * (z*p1 - p0) / (z*z - 1)
			dz := p1 / dp
			z -= dz
			if math.Abs(dz) < 1e-15 {
				break
			}
		}
		// recompute derivative at the converged root
		p0, p1 := 1.0, z
		for k := 2; k <= n; k++ {
			p0, p1 = p1, ((2*float64(k)-1)*z*p1-(float64(k)-1)*p0)/float64(k)
		}
		dp = float64(n) * (z*p1 - p0) / (z*z - 1)
		w := 2 / ((1 - z*z) * dp * dp)
		// i-th largest root -> place in increasing order
		alphas[n-1-i] = 0.5 * (1 + z)
		weights[n-1-i] = 0.5 * w
	}
	return alphas, weights
}
