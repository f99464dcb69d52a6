package recommend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/word2vec"
)

// Options configures Train. Zero values mean the defaults in brackets;
// negative values are errors.
type Options struct {
	// Sessions is the training file: one session per line, item ids
	// separated by white space, in the order the user met them.
	Sessions string
	// Dim is the vector size [32].
	Dim int
	// Window is the context distance; 0 or less uses the whole session as
	// every item's context (item2vec) [0].
	Window int
	// Negative is the number of noise items per positive pair [5].
	Negative int
	// Epochs over the sessions [10].
	Epochs int
	// MinCount drops items seen fewer times [1].
	MinCount int
	// Alpha is the initial learning rate, falling linearly to Alpha/1000
	// [0.025].
	Alpha float64
	// GlobalContext adds the session's last item as a positive context of
	// every other item of the session (Airbnb's booked listing).
	GlobalContext bool
	// Markets maps item → market; when set, half of the negatives of each
	// positive pair are drawn from the market of the positive item.
	Markets map[string]string
	// Threads is the number of training goroutines [GOMAXPROCS]; with 1 the
	// result is deterministic for a Seed.
	Threads int
	// Seed seeds the initial vectors and the samplers.
	Seed uint64
}

// Stats describes a training run.
type Stats struct {
	Seconds  float64 `json:"seconds"`
	Sessions int     `json:"sessions"`
	Events   int64   `json:"events"`
	Items    int     `json:"items"`
	// Pairs is the number of positive (item, context) pairs trained.
	Pairs int64 `json:"pairs"`
}

// ReadSessions reads a sessions file: one session per non-empty line, item
// ids separated by white space.
func ReadSessions(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	for sc.Scan() {
		if items := strings.Fields(sc.Text()); len(items) > 0 {
			out = append(out, items)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recommend: sessions %s: %w", path, err)
	}
	return out, nil
}

// ReadMarkets reads an "item<TAB or space>market" file ('#' comments).
func ReadMarkets(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recommend: %w", err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("recommend: markets %s line %d: %q: want \"item market\"", path, n, line)
		}
		if old, dup := m[f[0]]; dup && old != f[1] {
			return nil, fmt.Errorf("recommend: markets %s line %d: item %q in two markets (%q, %q)", path, n, f[0], old, f[1])
		}
		m[f[0]] = f[1]
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("recommend: markets %s: %w", path, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("recommend: markets %s is empty", path)
	}
	return m, nil
}

// Train reads opt.Sessions and learns item vectors.
func Train(ctx context.Context, opt Options) (*Model, *Stats, error) {
	if opt.Sessions == "" {
		return nil, nil, errors.New("recommend: no sessions file given")
	}
	sessions, err := ReadSessions(opt.Sessions)
	if err != nil {
		return nil, nil, err
	}
	if len(sessions) == 0 {
		return nil, nil, fmt.Errorf("recommend: sessions file %s has no sessions", opt.Sessions)
	}
	return TrainSessions(ctx, sessions, opt)
}

// TrainSessions learns item vectors from sessions in memory (opt.Sessions
// is ignored).
func TrainSessions(ctx context.Context, sessions [][]string, opt Options) (*Model, *Stats, error) {
	for _, f := range []struct {
		name string
		v    int
	}{{"size", opt.Dim}, {"negative", opt.Negative}, {"epochs", opt.Epochs}, {"min-count", opt.MinCount}, {"threads", opt.Threads}} {
		if f.v < 0 {
			return nil, nil, fmt.Errorf("recommend: %s %d, want >= 0 (0: the default)", f.name, f.v)
		}
	}
	if opt.Alpha < 0 || math.IsNaN(opt.Alpha) || math.IsInf(opt.Alpha, 0) {
		return nil, nil, fmt.Errorf("recommend: alpha %v, want > 0 (0: the default)", opt.Alpha)
	}
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&opt.Dim, 32)
	def(&opt.Negative, 5)
	def(&opt.Epochs, 10)
	def(&opt.MinCount, 1)
	def(&opt.Threads, runtime.GOMAXPROCS(0))
	if opt.Alpha == 0 {
		opt.Alpha = 0.025
	}
	start := time.Now()
	// Vocabulary: most frequent first, ties in first-seen order.
	count := map[string]int64{}
	var order []string
	var events int64
	for _, s := range sessions {
		for _, it := range s {
			if count[it] == 0 {
				order = append(order, it)
			}
			count[it]++
			events++
		}
	}
	var items []string
	for _, it := range order {
		if count[it] >= int64(opt.MinCount) {
			items = append(items, it)
		}
	}
	if len(items) < 2 {
		return nil, nil, fmt.Errorf("recommend: %d items occur at least min-count=%d times; need at least 2", len(items), opt.MinCount)
	}
	sort.SliceStable(items, func(a, b int) bool { return count[items[a]] > count[items[b]] })
	index := make(map[string]int32, len(items))
	counts := make([]float64, len(items))
	for i, it := range items {
		index[it] = int32(i)
		counts[i] = float64(count[it])
	}
	enc := make([][]int32, 0, len(sessions))
	for _, s := range sessions {
		e := make([]int32, 0, len(s))
		for _, it := range s {
			if id, ok := index[it]; ok {
				e = append(e, id)
			}
		}
		if len(e) > 1 {
			enc = append(enc, e)
		}
	}
	if len(enc) == 0 {
		return nil, nil, errors.New("recommend: no session has two known items: nothing to learn from")
	}
	t := &trainer{opt: opt, dim: opt.Dim, n: len(items), noise: newSampler(counts, allIDs(len(items)))}
	if len(opt.Markets) > 0 {
		byMarket := map[string][]int32{}
		t.market = make([]int32, len(items))
		var names []string
		for i, it := range items {
			m, ok := opt.Markets[it]
			if !ok {
				t.market[i] = -1
				continue
			}
			if _, seen := byMarket[m]; !seen {
				names = append(names, m)
			}
			byMarket[m] = append(byMarket[m], int32(i))
		}
		for mi, name := range names {
			ids := byMarket[name]
			c := make([]float64, len(ids))
			for k, id := range ids {
				c[k] = counts[id]
				t.market[id] = int32(mi)
			}
			t.markets = append(t.markets, newSampler(c, ids))
		}
	}
	t.in = make([]float32, t.n*t.dim)
	t.out = make([]float32, t.n*t.dim)
	r := rng{s: opt.Seed*0x9E3779B97F4A7C15 + 1}
	for i := range t.in {
		t.in[i] = (float32(r.next()>>40)/(1<<24)*2 - 1) / float32(t.dim)
	}
	t.total = int64(opt.Epochs) * int64(len(enc))
	var wg sync.WaitGroup
	var pairs [64]int64
	threads := min(opt.Threads, 64)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pairs[w] = t.work(ctx, enc, w, threads)
		}(w)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	vecs, err := word2vec.NewVectors(items, t.dim, t.in)
	if err != nil {
		return nil, nil, fmt.Errorf("recommend: %w", err)
	}
	st := &Stats{Seconds: time.Since(start).Seconds(), Sessions: len(sessions), Events: events, Items: len(items)}
	for _, p := range pairs {
		st.Pairs += p
	}
	return &Model{Vectors: vecs}, st, nil
}

func allIDs(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

type trainer struct {
	opt     Options
	dim, n  int
	in, out []float32 // item (input) and context (output) vectors
	noise   *sampler
	market  []int32 // market index per item, -1 if none
	markets []*sampler
	total   int64 // sessions × epochs
}

// work trains the sessions of one thread (every threads-th, each epoch).
func (t *trainer) work(ctx context.Context, sessions [][]int32, w, threads int) int64 {
	r := rng{s: t.opt.Seed ^ uint64(w+1)*0xD1B54A32D192ED03}
	grad := make([]float32, t.dim)
	var pairs int64
	var local int64
	for ep := 0; ep < t.opt.Epochs; ep++ {
		for si := w; si < len(sessions); si += threads {
			if local&1023 == 0 && ctx.Err() != nil {
				return pairs
			}
			local++
			// Each thread sees 1/threads of the sessions: its own count
			// scaled up estimates the global progress for the learning rate.
			progress := float64(local*int64(threads)) / float64(t.total)
			alpha := float32(t.opt.Alpha * max(1-progress, 0.001))
			s := sessions[si]
			last := len(s) - 1
			for i, item := range s {
				lo, hi := 0, len(s)
				if t.opt.Window > 0 {
					b := int(r.next() % uint64(t.opt.Window))
					lo, hi = max(0, i-t.opt.Window+b), min(len(s), i+t.opt.Window+1-b)
				}
				for j := lo; j < hi; j++ {
					if j != i {
						t.pair(item, s[j], alpha, grad, &r)
						pairs++
					}
				}
				// Airbnb's global context: the booked (last) item is a
				// context of every item, whether or not it is in the window.
				if t.opt.GlobalContext && i != last && (last < lo || last >= hi) {
					t.pair(item, s[last], alpha, grad, &r)
					pairs++
				}
			}
		}
	}
	return pairs
}

// pair trains item's vector to predict ctx against Negative noise items.
func (t *trainer) pair(item, ctx int32, alpha float32, grad []float32, r *rng) {
	d := t.dim
	l1 := t.in[int(item)*d : int(item)*d+d]
	clear(grad)
	t.update(l1, ctx, 1, alpha, grad)
	inMarket := 0
	if t.markets != nil && t.market[ctx] >= 0 {
		inMarket = t.opt.Negative / 2
		if t.opt.Negative == 1 && r.next()&1 == 0 {
			inMarket = 1
		}
	}
	for k := 0; k < t.opt.Negative; k++ {
		var neg int32
		if k < inMarket {
			neg = t.markets[t.market[ctx]].sample(r.next())
		} else {
			neg = t.noise.sample(r.next())
		}
		if neg == ctx {
			continue
		}
		t.update(l1, neg, 0, alpha, grad)
	}
	kernels.Axpy(1, grad, l1)
}

func (t *trainer) update(l1 []float32, target int32, label, alpha float32, grad []float32) {
	d := t.dim
	l2 := t.out[int(target)*d : int(target)*d+d]
	f := kernels.Dot(l1, l2)
	g := (label - sigmoid(f)) * alpha
	kernels.Axpy(g, l2, grad)
	kernels.Axpy(g, l1, l2)
}

func sigmoid(x float32) float32 {
	if x > 20 {
		return 1
	}
	if x < -20 {
		return 0
	}
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// sampler draws ids with probability proportional to count^0.75 (alias
// method).
type sampler struct {
	ids   []int32
	prob  []uint32
	alias []int32
}

func newSampler(counts []float64, ids []int32) *sampler {
	n := len(counts)
	s := &sampler{ids: ids, prob: make([]uint32, n), alias: make([]int32, n)}
	p := make([]float64, n)
	var sum float64
	for i, c := range counts {
		p[i] = math.Pow(c, 0.75)
		sum += p[i]
	}
	var small, large []int32
	for i := range p {
		p[i] *= float64(n) / sum
		if p[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		a, b := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		s.prob[a] = uint32(p[a] * math.MaxUint32)
		s.alias[a] = b
		p[b] -= 1 - p[a]
		if p[b] < 1 {
			large = large[:len(large)-1]
			small = append(small, b)
		}
	}
	for _, i := range append(small, large...) {
		s.prob[i] = math.MaxUint32
		s.alias[i] = i
	}
	return s
}

func (s *sampler) sample(r uint64) int32 {
	i := int32(((r >> 32) * uint64(len(s.prob))) >> 32)
	if uint32(r) >= s.prob[i] {
		i = s.alias[i]
	}
	return s.ids[i]
}

// rng is wyrand.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}
