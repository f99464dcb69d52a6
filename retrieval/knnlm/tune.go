package knnlm

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
)

// TuneOptions are the grid Tune scores. Empty lists take DefaultTuneOptions'.
type TuneOptions struct {
	// Window is the evaluation's sliding window (zero fields: the
	// datastore's MaxLength and Stride).
	Window       perplexity.Options
	Lambdas      []float64 // each 0 to 1
	Ks           []int     // each ≥ 1; the largest is searched once
	Temperatures []float64 // each > 0
	Ef           int       // HNSW's candidate list (max(Ef, k) is used)
	// Progress, if not nil, is called after each chunk of targets with the
	// targets done so far and in all.
	Progress func(done, total int)
}

// DefaultTuneOptions returns the grid loupe knnlm tune scores by default:
// λ from 0.05 to 0.7, k from 8 to 1024 in powers of two, and T in 1, 2, 5,
// 10, 20, 50 (squared distances between GPT-2 hidden states run to tens or
// hundreds, so T = 1 gives nearly all weight to the nearest key; on the
// default model's held-out text the best T was 20).
func DefaultTuneOptions() TuneOptions {
	return TuneOptions{
		Lambdas:      []float64{0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7},
		Ks:           []int{8, 16, 32, 64, 128, 256, 512, 1024},
		Temperatures: []float64{1, 2, 5, 10, 20, 50},
	}
}

// TuneRow is the result of one setting of the grid.
type TuneRow struct {
	Lambda      float64 `json:"lambda"`
	K           int     `json:"k"`
	Temperature float64 `json:"temperature"`
	NLL         float64 `json:"nll"`        // mean negative log-likelihood per target, nats
	Perplexity  float64 `json:"perplexity"` // exp(NLL)
	Drop        float64 `json:"drop"`       // relative perplexity drop from the model alone: 1 − Perplexity/baseline
}

// TuneResult is Tune's outcome.
type TuneResult struct {
	Tokens             int       `json:"tokens"`              // targets scored
	BaselineNLL        float64   `json:"baseline_nll"`        // the model alone
	BaselinePerplexity float64   `json:"baseline_perplexity"` //
	Rows               []TuneRow `json:"rows"`                // every setting, in λ, k, T order (λ slowest)
	Best               TuneRow   `json:"best"`                // the lowest perplexity
	Hits               int       `json:"hits"`                // targets among their largest-k neighbours' values
	SearchSeconds      float64   `json:"search_seconds"`      // time in kNN searches
	Seconds            float64   `json:"seconds"`             // time in all
	MaxLength          int       `json:"max_length"`
	Stride             int       `json:"stride"`
}

// record keeps what the grid needs of each target: its neighbours'
// distances (nearest first), which of them have the target as value, and
// the model's log-probability.
type record struct {
	ds      *Datastore
	k, ef   int
	dists   []float32 // [targets, k]
	match   []bool    // [targets, k]
	lm      []float64
	hits    int
	seconds float64
}

func (r *record) Mix(hidden []float32, _, targets []int, logp []float64) error {
	t0 := time.Now()
	res, err := r.ds.Search(hidden, len(targets), r.k, &SearchOptions{Ef: r.ef})
	r.seconds += time.Since(t0).Seconds()
	if err != nil {
		return err
	}
	for i, ns := range res {
		if len(ns) != r.k {
			return fmt.Errorf("knnlm: tune: %d neighbours for k = %d", len(ns), r.k)
		}
		hit := false
		for _, nb := range ns {
			r.dists = append(r.dists, nb.Distance)
			r.match = append(r.match, nb.Token == targets[i])
			hit = hit || nb.Token == targets[i]
		}
		if hit {
			r.hits++
		}
	}
	r.lm = append(r.lm, logp...)
	return nil
}

// Tune evaluates m on the token stream ids with the kNN-LM over d for
// every setting of the grid in opt, searching each target's neighbours
// once with the largest k (the neighbours of a smaller k are a prefix),
// and returns the table and the setting of lowest perplexity. It holds
// k distances per target in memory (4 MB per 1000 targets at k = 1024).
func Tune(ctx context.Context, d *Datastore, m *gpt2.Model, ids []int, opt TuneOptions) (*TuneResult, error) {
	start := time.Now()
	def := DefaultTuneOptions()
	if len(opt.Lambdas) == 0 {
		opt.Lambdas = def.Lambdas
	}
	if len(opt.Ks) == 0 {
		opt.Ks = def.Ks
	}
	if len(opt.Temperatures) == 0 {
		opt.Temperatures = def.Temperatures
	}
	for _, l := range opt.Lambdas {
		if err := (Options{Lambda: l, K: 1, Temperature: 1}).Check(); err != nil {
			return nil, err
		}
	}
	for _, t := range opt.Temperatures {
		if err := (Options{K: 1, Temperature: t}).Check(); err != nil {
			return nil, err
		}
	}
	ks := slices.Clone(opt.Ks)
	slices.Sort(ks)
	ks = slices.Compact(ks)
	if ks[0] < 1 {
		return nil, &OptionError{"k", ks[0], "1 or more"}
	}
	for i := range ks {
		ks[i] = min(ks[i], d.Len())
	}
	ks = slices.Compact(ks)
	kmax := ks[len(ks)-1]
	win := opt.Window
	if win.MaxLength == 0 {
		win.MaxLength = d.Manifest.MaxLength
	}
	if win.Stride == 0 {
		win.Stride = min(d.Manifest.Stride, win.MaxLength)
	}
	rec := &record{ds: d, k: kmax, ef: opt.Ef}
	win.Mixer = rec
	base, err := perplexity.Evaluate(ctx, m, ids, win, opt.Progress)
	if err != nil {
		return nil, err
	}
	n := len(rec.lm)
	nk, nt, nl := len(ks), len(opt.Temperatures), len(opt.Lambdas)
	// nll[(ki*nt+ti)*nl+li], summed over targets, in parallel halves.
	const parts = 2
	sums := make([][]float64, parts)
	var wg sync.WaitGroup
	for p := range parts {
		sums[p] = make([]float64, nk*nt*nl)
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			g := newGrid(ks, opt.Temperatures, opt.Lambdas)
			for t := p * n / parts; t < (p+1)*n/parts; t++ {
				g.add(sums[p], rec.dists[t*kmax:(t+1)*kmax], rec.match[t*kmax:(t+1)*kmax], rec.lm[t])
			}
		}(p)
	}
	wg.Wait()
	res := &TuneResult{
		Tokens: n, BaselineNLL: base.NLL, BaselinePerplexity: base.Perplexity, Hits: rec.hits,
		SearchSeconds: rec.seconds, MaxLength: win.MaxLength, Stride: win.Stride,
	}
	best := math.Inf(1)
	for li, l := range opt.Lambdas {
		for ki, k := range ks {
			for ti, temp := range opt.Temperatures {
				var sum float64
				for p := range parts {
					sum += sums[p][(ki*nt+ti)*nl+li]
				}
				nll := sum / float64(n)
				row := TuneRow{Lambda: l, K: k, Temperature: temp, NLL: nll, Perplexity: math.Exp(nll),
					Drop: 1 - math.Exp(nll)/base.Perplexity}
				res.Rows = append(res.Rows, row)
				if nll < best {
					best, res.Best = nll, row
				}
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// grid scores one target for every setting of a tune.
type grid struct {
	ks          []int // increasing
	temps       []float64
	lambdas     []float64
	logl, logl1 []float64 // log λ and log(1−λ)
}

func newGrid(ks []int, temps, lambdas []float64) *grid {
	g := &grid{ks: ks, temps: temps, lambdas: lambdas}
	for _, l := range lambdas {
		g.logl = append(g.logl, math.Log(l))
		g.logl1 = append(g.logl1, math.Log1p(-l))
	}
	return g
}

// add subtracts from s[(ki·len(temps)+ti)·len(lambdas)+li] the
// interpolated log-probability of a target for k = ks[ki], T = temps[ti],
// λ = lambdas[li], given its neighbours' distances (nearest first; at
// least the largest k of them), which of them have the target as value,
// and the model's log-probability lm.
func (g *grid) add(s []float64, dists []float32, match []bool, lm float64) {
	nt, nl := len(g.temps), len(g.lambdas)
	kmax := g.ks[len(g.ks)-1]
	for ti, temp := range g.temps {
		// Distances are nearest first: the first score is the largest,
		// so the running sums are of terms ≤ 1.
		s0 := -float64(dists[0]) / temp
		var z, zy float64
		ki := 0
		for i := 0; i < kmax; i++ {
			e := math.Exp(-float64(dists[i])/temp - s0)
			z += e
			if match[i] {
				zy += e
			}
			if i+1 < g.ks[ki] {
				continue
			}
			knn := math.Inf(-1)
			if zy > 0 {
				knn = math.Log(zy) - math.Log(z)
			}
			row := s[(ki*nt+ti)*nl:]
			for li, l := range g.lambdas {
				var v float64
				switch l {
				case 0:
					v = lm
				case 1:
					v = knn
				default:
					v = logAddExp(g.logl[li]+knn, g.logl1[li]+lm)
				}
				row[li] -= v
			}
			ki++
			if ki == len(g.ks) {
				break
			}
		}
	}
}
