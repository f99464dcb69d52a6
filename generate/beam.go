package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// EarlyStopping is transformers' early_stopping: when beam search may end
// before every beam has reached the length limit.
type EarlyStopping int

const (
	// EarlyStopHeuristic (early_stopping=False, the default) ends the
	// search once NumBeams sequences are finished and the best running
	// beam, normalised by its current length, cannot beat the worst of
	// them.
	EarlyStopHeuristic EarlyStopping = iota
	// EarlyStopOn (early_stopping=True) ends the search as soon as
	// NumBeams sequences are finished.
	EarlyStopOn
	// EarlyStopNever (early_stopping="never") ends it only when no running
	// beam can beat the worst finished one even at the maximum length
	// (the canonical beam search when LengthPenalty > 0).
	EarlyStopNever
)

// ParseEarlyStopping reads "false", "true" or "never".
func ParseEarlyStopping(s string) (EarlyStopping, error) {
	switch s {
	case "false", "False":
		return EarlyStopHeuristic, nil
	case "true", "True":
		return EarlyStopOn, nil
	case "never":
		return EarlyStopNever, nil
	}
	return 0, fmt.Errorf("generate: early stopping %q: want false, true or never", s)
}

// String returns the value as transformers spells it in JSON.
func (e EarlyStopping) String() string {
	switch e {
	case EarlyStopOn:
		return "true"
	case EarlyStopNever:
		return "never"
	}
	return "false"
}

// Beams configures beam search. transformers' defaults are NumBeams 1,
// LengthPenalty 1, EarlyStopHeuristic and NumReturnSequences 1.
type Beams struct {
	NumBeams int // beams kept at each step (>= 1)
	// LengthPenalty is the exponent of the generated length (EOS
	// included, prompt excluded) that divides a finished sequence's summed
	// log-probabilities: > 0 favours longer sequences, < 0 shorter ones.
	LengthPenalty      float64
	EarlyStopping      EarlyStopping
	NumReturnSequences int // sequences returned, best first (0 means 1; at most NumBeams)
	// Sample draws each step's candidates instead of keeping the best ones:
	// transformers' generate(do_sample=True, num_beams=N), "beam sample".
	// The processors are then all of Options.Sampling's (Greedy is
	// ignored), the truncating warpers keeping at least 1 + len(EOS) tokens
	// (at least 2), and the draws come from Sampling.Seed.
	Sample bool
}

// Sequence is one result of a beam search or of GenerateN.
type Sequence struct {
	IDs      []int     `json:"ids"`      // generated ids, including a final EOS (or the token that completed a stop string)
	Text     string    `json:"text"`     // generated text, without the EOS (and without the stop string)
	Logprobs []float32 `json:"logprobs"` // log-softmax of the raw logits at each id of IDs
	// Score is transformers' sequences_scores (beam search only): the sum
	// of the processed log-probabilities of IDs divided by
	// len(IDs)^LengthPenalty.
	Score float32 `json:"-"`
	// Finish is "eos", "length" (MaxNewTokens), "context" (the model's
	// context is full) or, for GenerateN, "stop" (a stop string).
	Finish string `json:"-"`
}

// BeamResult is a finished beam search.
type BeamResult struct {
	PromptIDs []int
	Sequences []Sequence // NumReturnSequences of them, best score first
	Stats     Stats      // DecodeTokens counts every beam's token
}

// scoreFloor is transformers' -1e9, the score that keeps a beam out of
// the running or finished lists.
const scoreFloor = float32(-1e9)

// MaxBeamBytes bounds the memory a beam search or GenerateN may allocate
// for its key/value caches and logits (an oversized --num-beams or
// --num-return-sequences is an error, not an out-of-memory crash).
const MaxBeamBytes = 16 << 30

// BeamSearch continues prompt with beam search as transformers'
// generate(num_beams=N, do_sample=False) does (its vectorised _beam_search):
// at each step every running beam's next-token log-softmax, processed by
// the repetition penalty and the no-repeat n-gram ban of opt.Sampling (the
// other sampling fields are ignored, as transformers ignores them without
// do_sample) and by opt's minimum length (EOS ids at -Inf while a beam is
// shorter), is added to the beam's score; the best
// max(2, 1+len(EOS))·NumBeams continuations are kept, those among the first
// NumBeams that end in an EOS token (or reach the length limit) join the
// finished list, scored by their sum divided by their generated length to
// the power LengthPenalty, and the best NumBeams unfinished ones run on.
// The beams run as one batch of one gpt2.State, whose caches are reordered
// after each step. Stop strings and OnToken are not supported.
//
// With b.Sample (transformers' beam sample, the do_sample=True branch of the
// same _beam_search) every processor and warper of opt.Sampling runs on the
// log-softmax, in transformers' order (temperature, top-k, top-p, min-p and
// typical-p after the penalties and the minimum length), and the K
// continuations are drawn without replacement from the softmax of the
// accumulated scores over all beams and tokens (see drawCandidates) instead
// of taken best first. They stay in the order drawn: the first NumBeams
// drawn, not the best NumBeams, are the ones that may join the finished
// list. The rest of the search is the same.
func BeamSearch(ctx context.Context, m *gpt2.Model, prompt []int, opt Options, b Beams, dec Decoder) (*BeamResult, error) {
	return beamSearchWith(ctx, m, prompt, opt, b, dec, nil)
}

// beamSearchWith is BeamSearch with the uniform numbers of beam sampling's
// draws taken from uniform (nil: the PCG stream of opt.Sampling.Seed, the
// one Generate's first sequence uses). The golden test feeds it the
// reference script's numbers.
func beamSearchWith(ctx context.Context, m *gpt2.Model, prompt []int, opt Options, b Beams, dec Decoder, uniform func() float64) (*BeamResult, error) {
	return beamSearchLM(ctx, GPT2(m), prompt, opt, b, dec, uniform)
}

// beamSearchLM is beamSearchWith for any LM.
func beamSearchLM(ctx context.Context, lm LM, prompt []int, opt Options, b Beams, dec Decoder, uniform func() float64) (*BeamResult, error) {
	nPos := lm.MaxLen()
	if err := checkPrompt(lm, prompt); err != nil {
		return nil, err
	}
	N := b.NumBeams
	if N < 1 {
		return nil, fmt.Errorf("generate: num beams %d: want a positive number", N)
	}
	R := b.NumReturnSequences
	if R == 0 {
		R = 1
	}
	if R < 0 || R > N {
		return nil, fmt.Errorf("generate: num return sequences %d: want a number from 1 to num beams (%d)", R, N)
	}
	if math.IsNaN(b.LengthPenalty) || math.IsInf(b.LengthPenalty, 0) {
		return nil, fmt.Errorf("generate: length penalty %g: want a finite number", b.LengthPenalty)
	}
	if opt.MaxNewTokens < 0 {
		return nil, fmt.Errorf("generate: max new tokens %d: want a positive number", opt.MaxNewTokens)
	}
	if opt.MaxNewTokens == 0 {
		opt.MaxNewTokens = DefaultMaxNewTokens
	}
	if len(opt.Stop) > 0 {
		return nil, errors.New("generate: stop strings are not supported with beam search")
	}
	samp := Sampling{Greedy: true, RepetitionPenalty: opt.RepetitionPenalty, NoRepeatNGramSize: opt.NoRepeatNGramSize}
	if b.Sample {
		samp = opt.Sampling
		samp.Greedy = false
	}
	if err := samp.Check(); err != nil {
		return nil, err
	}
	if err := opt.checkMinLength(); err != nil {
		return nil, err
	}
	if err := checkContext(opt.Context); err != nil {
		return nil, err
	}
	if err := opt.checkForced(lm.VocabSize()); err != nil {
		return nil, err
	}
	lm, err := withHook(lm, opt.Hook)
	if err != nil {
		return nil, err
	}
	eos := opt.eosFor(lm.EOSTokenID())
	P := len(prompt)
	maxLen := min(P+opt.MaxNewTokens, nPos)
	capped := maxLen < P+opt.MaxNewTokens
	res := &BeamResult{PromptIDs: append([]int(nil), prompt...)}
	if P >= maxLen { // the prompt fills the context
		for range R {
			res.Sequences = append(res.Sequences, Sequence{IDs: []int{}, Logprobs: []float32{}, Finish: "context"})
		}
		return res, nil
	}
	V := lm.VocabSize()
	K := max(2, 1+len(eos)) * N
	if K > N*V {
		return nil, fmt.Errorf("generate: %d beams keep %d candidates, more than the %d tokens of %d beams over a vocabulary of %d", N, K, N*V, N, V)
	}
	// The beams' key/value caches and logits (and, to sample, the
	// accumulated scores and their weights), before any of it is allocated.
	perV := int64(3)
	if b.Sample {
		perV = 6
	}
	rt := newRetrieval(&opt, nPos)
	cacheLen := rt.maxSeq(nPos, maxLen)
	if need := cacheBytes(lm, N+1, cacheLen, perV); need > MaxBeamBytes {
		return nil, fmt.Errorf("generate: %d beams of %d positions need %.1f GiB for their caches and logits, more than the %d GiB limit: use fewer beams or tokens",
			N, maxLen, float64(need)/(1<<30), MaxBeamBytes>>30)
	}
	bs := newBeamSearch(N, K, P, maxLen, V, samp.processors(opt.extra(eos, P, nPos)))
	if b.Sample {
		if N > 1 {
			setMinKeep(bs.procs, max(2, 1+len(eos)))
		}
		if uniform == nil {
			uniform = rand.New(seedStream(samp.Seed, 0)).Float64
		}
		bs.uniform = uniform
		bs.acc = make([]float32, N*V)
		bs.w = make([]float64, N*V)
	}
	for i := range N {
		copy(bs.seq[i*maxLen:], prompt)
	}

	// One extra sequence in the State is the spare Reorder needs for cycles.
	// MaxRows fits the prompt and one step of every beam: a prompt shorter
	// than the beam count must not split a step into several passes (each
	// reading all the weights).
	first, err := rt.prompt(ctx, 0, prompt)
	if err != nil {
		return nil, err
	}
	s, err := lm.NewCache(N+1, cacheLen, min(max(len(first), N), 512))
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := s.Forward([][]int{first}); err != nil {
		return nil, err
	}
	for i := 1; i < N; i++ {
		s.CopySeq(i, 0)
	}
	res.Stats.PrefillTokens = len(first)
	res.Stats.PrefillSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	step := make([][]int, N)
	for i := range step {
		step[i] = make([]int, 1)
	}
	for cur := P; ; cur++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i := range N {
			if err := rt.apply(s, i); err != nil {
				return nil, err
			}
		}
		done := bs.step(s, cur, eos, b)
		if done {
			break
		}
		s.Reorder(bs.from, N)
		pass := step
		if rt.due(cur + 1 - P) {
			// Every beam rebuilds its context from its own text.
			pass = make([][]int, N)
			for i := range N {
				toks, err := rt.rebuild(ctx, i, bs.seq[i*maxLen:i*maxLen+cur+1])
				if err != nil {
					return nil, err
				}
				s.Truncate(i, 0)
				pass[i] = toks
				res.Stats.ContextTokens += len(toks)
			}
		} else {
			for i := range N {
				step[i][0] = bs.seq[i*maxLen+cur]
			}
			res.Stats.DecodeTokens += N
		}
		if err := s.Forward(pass); err != nil {
			return nil, err
		}
	}
	res.Stats.DecodeSeconds = time.Since(t1).Seconds()

	for k := range R {
		n := bs.flen[k]
		ids := slices.Clone(bs.fseq[k*maxLen+P : k*maxLen+n])
		sq := Sequence{IDs: ids, Logprobs: slices.Clone(bs.flps[k*maxLen+P : k*maxLen+n]), Score: bs.fscore[k], Finish: "length"}
		text := ids
		switch {
		case len(ids) > 0 && slices.Contains(eos, ids[len(ids)-1]):
			sq.Finish = "eos"
			text = ids[:len(ids)-1]
		case capped && n == maxLen:
			sq.Finish = "context"
		}
		if dec != nil {
			sq.Text = dec.Decode(text)
		}
		res.Sequences = append(res.Sequences, sq)
	}
	return res, nil
}

// candidate is one continuation considered at a step: beam's sequence
// followed by tok, with the beam's score plus tok's processed log-prob.
type candidate struct {
	score float32 // accumulated processed log-probability
	beam  int
	tok   int
	raw   float32 // log-softmax of the raw logits at tok
	index int     // beam*V + tok, the order transformers' topk breaks ties by (assumed)
}

// beamSearch holds the running and finished beams of one search: flat
// [N, maxLen] arrays (prompt included), double-buffered so that a step
// can gather rows from the old ones. Logprobs are stored at the same
// positions as their ids.
type beamSearch struct {
	N, K, P, maxLen, V int
	procs              []Processor

	// Beam sampling (uniform != nil): the draws' uniform numbers in [0, 1),
	// the accumulated scores of every beam's tokens ([N*V]), their
	// softmax weights and the indices with a weight above 0.
	uniform func() float64
	acc     []float32
	w       []float64
	live    []int

	seq, seq2 []int     // running sequences
	lps, lps2 []float32 // their raw log-probs
	score     []float32 // running beam scores (sums of processed log-probs)
	lse       []float32 // per beam: log-sum-exp of this step's raw logits
	next      []float32 // their next values
	from      []int     // for the State: beam i continues old beam from[i]

	fseq, fseq2   []int // finished sequences
	flps, flps2   []float32
	flen, flen2   []int
	fscore, fsc2  []float32
	ffin, ffin2   []bool // the slot holds a finished sequence (others hold -1e9 fillers)
	unsatisfied   bool   // transformers' is_early_stop_heuristic_unsatisfied
	buf           []float32
	cand          []candidate
	hits          []bool
	order, merged []int
	msc           []float32
}

func newBeamSearch(N, K, P, maxLen, V int, procs []Processor) *beamSearch {
	bs := &beamSearch{N: N, K: K, P: P, maxLen: maxLen, V: V, procs: procs,
		seq: make([]int, N*maxLen), seq2: make([]int, N*maxLen),
		lps: make([]float32, N*maxLen), lps2: make([]float32, N*maxLen),
		score: make([]float32, N), lse: make([]float32, N), next: make([]float32, N), from: make([]int, N),
		fseq: make([]int, N*maxLen), fseq2: make([]int, N*maxLen),
		flps: make([]float32, N*maxLen), flps2: make([]float32, N*maxLen),
		flen: make([]int, N), flen2: make([]int, N),
		fscore: make([]float32, N), fsc2: make([]float32, N),
		ffin: make([]bool, N), ffin2: make([]bool, N),
		unsatisfied: true,
		buf:         make([]float32, V),
		cand:        make([]candidate, 0, K),
		hits:        make([]bool, K),
		order:       make([]int, 0, N+K),
		merged:      make([]int, 0, N+K),
		msc:         make([]float32, N+K),
	}
	// Only the first beam is live at the start: the others are copies
	// of it and would repeat its continuations.
	for i := 1; i < N; i++ {
		bs.score[i] = scoreFloor
	}
	for i := range bs.fscore {
		bs.fscore[i] = scoreFloor
		// An empty slot is the prompt alone (transformers returns it,
		// padded, when fewer sequences finished than are asked for: a beam
		// sample whose draws found too few tokens above 0).
		bs.flen[i] = P
	}
	return bs
}

// step runs one step of the search from the logits in s (sequences hold cur
// tokens) and reports whether the search is over. Otherwise the running
// beams now hold cur+1 tokens and from says which old beam each continues.
func (bs *beamSearch) step(s Cache, cur int, eos []int, b Beams) bool {
	N, K, V, L := bs.N, bs.K, bs.V, bs.maxLen
	// a. Accumulated scores of every beam's continuations; keep the top K.
	bs.cand = bs.cand[:0]
	for i := range N {
		lg := s.Logits(i)
		x := bs.buf
		m := negInf
		for _, v := range lg {
			m = max(m, v)
		}
		lse := float32(math.Log(sumExpShifted(lg, m)))
		bs.lse[i] = m + lse
		for v, l := range lg {
			x[v] = l - m - lse
		}
		for _, p := range bs.procs {
			p.Process(bs.seq[i*L:i*L+cur], x)
		}
		base := bs.score[i]
		if bs.uniform != nil {
			row := bs.acc[i*V : (i+1)*V]
			for v, lp := range x {
				row[v] = lp + base
			}
			continue
		}
		for v, lp := range x {
			sc := lp + base
			if len(bs.cand) == K && !(sc > bs.cand[0].score) {
				continue // not better than the worst kept (ties keep the lower index, seen first)
			}
			bs.offer(candidate{score: sc, beam: i, tok: v, index: i*V + v})
		}
	}
	if bs.uniform != nil {
		bs.drawCandidates()
	} else {
		slices.SortFunc(bs.cand, func(a, c candidate) int { return better(a.score, a.index, c.score, c.index) })
	}
	for j := range bs.cand {
		cd := &bs.cand[j]
		cd.raw = s.Logits(cd.beam)[cd.tok] - bs.lse[cd.beam]
		bs.hits[j] = slices.Contains(eos, cd.tok) || cur+1 >= L
	}

	// e. The best N continuations that did not finish run on.
	bs.order = bs.order[:0]
	for j := range K {
		bs.order = append(bs.order, j)
		bs.msc[j] = bs.cand[j].score
		if bs.hits[j] {
			bs.msc[j] += scoreFloor
		}
	}
	slices.SortStableFunc(bs.order, func(a, c int) int { return better(bs.msc[a], a, bs.msc[c], c) })
	for i := range N {
		j := bs.order[i]
		cd := bs.cand[j]
		bs.from[i] = cd.beam
		copy(bs.seq2[i*L:i*L+cur], bs.seq[cd.beam*L:cd.beam*L+cur])
		copy(bs.lps2[i*L:i*L+cur], bs.lps[cd.beam*L:cd.beam*L+cur])
		bs.seq2[i*L+cur] = cd.tok
		bs.lps2[i*L+cur] = cd.raw
	}
	for i := range N {
		bs.next[i] = bs.msc[bs.order[i]]
	}

	// f. Merge the continuations among the first N that finished into the
	// finished list, with the length penalty.
	allFin := true
	for _, f := range bs.ffin {
		allFin = allFin && f
	}
	div := float32(math.Pow(float64(cur+1-bs.P), b.LengthPenalty))
	bs.merged = bs.merged[:0]
	for k := range N {
		bs.msc[k] = bs.fscore[k]
		bs.merged = append(bs.merged, k)
	}
	for j := range K {
		sc := bs.cand[j].score / div
		if allFin && b.EarlyStopping == EarlyStopOn {
			sc += scoreFloor
		}
		if !bs.unsatisfied {
			sc += scoreFloor
		}
		if !(bs.hits[j] && j < N) {
			sc += scoreFloor
		}
		bs.msc[N+j] = sc
		bs.merged = append(bs.merged, N+j)
	}
	slices.SortStableFunc(bs.merged, func(a, c int) int { return better(bs.msc[a], a, bs.msc[c], c) })
	for k := range N {
		src := bs.merged[k]
		bs.fsc2[k] = bs.msc[src]
		if src < N {
			bs.flen2[k] = bs.flen[src]
			bs.ffin2[k] = bs.ffin[src]
			copy(bs.fseq2[k*L:k*L+bs.flen[src]], bs.fseq[src*L:src*L+bs.flen[src]])
			copy(bs.flps2[k*L:k*L+bs.flen[src]], bs.flps[src*L:src*L+bs.flen[src]])
			continue
		}
		j := src - N
		cd := bs.cand[j]
		bs.flen2[k] = cur + 1
		bs.ffin2[k] = bs.hits[j] && j < N
		copy(bs.fseq2[k*L:k*L+cur], bs.seq[cd.beam*L:cd.beam*L+cur])
		copy(bs.flps2[k*L:k*L+cur], bs.lps[cd.beam*L:cd.beam*L+cur])
		bs.fseq2[k*L+cur] = cd.tok
		bs.flps2[k*L+cur] = cd.raw
	}
	bs.fseq, bs.fseq2 = bs.fseq2, bs.fseq
	bs.flps, bs.flps2 = bs.flps2, bs.flps
	bs.flen, bs.flen2 = bs.flen2, bs.flen
	bs.fscore, bs.fsc2 = bs.fsc2, bs.fscore
	bs.ffin, bs.ffin2 = bs.ffin2, bs.ffin

	// The running beams move to their new rows and scores.
	copy(bs.score, bs.next)
	bs.seq, bs.seq2 = bs.seq2, bs.seq
	bs.lps, bs.lps2 = bs.lps2, bs.lps

	// g. Can a running beam still beat the worst finished one?
	n := cur + 1 - bs.P
	if b.EarlyStopping == EarlyStopNever && b.LengthPenalty > 0 {
		n = L - bs.P
	}
	best := bs.score[0] / float32(math.Pow(float64(n), b.LengthPenalty))
	worst := slices.Min(bs.fscore)
	improvable := false
	allFin = true
	for _, f := range bs.ffin {
		w := scoreFloor
		if f {
			w = worst
		}
		improvable = improvable || best > w
		allFin = allFin && f
	}
	bs.unsatisfied = bs.unsatisfied && improvable
	allHit := true
	for _, h := range bs.hits[:K] {
		allHit = allHit && h
	}
	open := !(allFin && b.EarlyStopping == EarlyStopOn)
	return !(bs.unsatisfied && open && !allHit)
}

// better orders candidates best first: the higher score, then the lower
// index (how torch.topk orders ties on the CPU, which the golden test
// checks only where it matters).
func better(a float32, ai int, b float32, bi int) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return ai - bi
}

// offer keeps c if it is among the K best candidates seen this step
// (bs.cand is a heap with the worst kept candidate at its root).
func (bs *beamSearch) offer(c candidate) {
	h := bs.cand
	if len(h) < bs.K {
		h = append(h, c)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !worse(&h[i], &h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		bs.cand = h
		return
	}
	if !worse(&h[0], &c) {
		return
	}
	h[0] = c
	for i := 0; ; {
		l, r, w := 2*i+1, 2*i+2, i
		if l < len(h) && worse(&h[l], &h[w]) {
			w = l
		}
		if r < len(h) && worse(&h[r], &h[w]) {
			w = r
		}
		if w == i {
			break
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// worse reports whether a ranks after b.
func worse(a, b *candidate) bool { return better(a.score, a.index, b.score, b.index) > 0 }

// drawCandidates fills bs.cand with K continuations drawn from bs.acc (the
// accumulated scores of all N*V beam-token pairs), as transformers' beam
// sample does with torch.multinomial(softmax(acc), K) (without
// replacement), in the order drawn. The draw is defined exactly so that
// the reference script can repeat it from the same uniform numbers:
//
//   - weights w[i] = exp(float64(acc[i]) - float64(max(acc))) (0 where
//     acc[i] is -Inf, or everywhere when the maximum is -Inf);
//   - draw j takes u = uniform() and, over the entries not yet drawn,
//     total = their w summed in index order (float64), then picks the first
//     index i (in index order) where the running sum of their w passes
//     u*total (the last one with w > 0 if rounding leaves u*total past the
//     sum): k successive inverse-CDF draws, each renormalised over what is
//     left, which is torch.multinomial(replacement=False) in distribution;
//   - when nothing with w > 0 is left (fewer than K entries have a
//     probability above 0, as after a small top-k on the first step, when
//     only the first beam is live) the draw takes the remaining entry with
//     the highest score, the lowest index on ties. torch picks such
//     zero-probability entries arbitrarily; this takes the ones plain beam
//     search would. The uniform number is used up either way.
func (bs *beamSearch) drawCandidates() {
	acc, w, V := bs.acc, bs.w, bs.V
	m := negInf
	for _, a := range acc {
		m = max(m, a)
	}
	bs.live = bs.live[:0]
	for i, a := range acc {
		w[i] = 0
		if m != negInf && a != negInf {
			w[i] = math.Exp(float64(a) - float64(m))
		}
		if w[i] > 0 {
			bs.live = append(bs.live, i)
		}
	}
	bs.cand = bs.cand[:0]
	for range bs.K {
		idx := drawIndex(w, bs.live, bs.uniform())
		if idx < 0 {
			for i, a := range acc {
				if !bs.drawn(i) && (idx < 0 || a > acc[idx]) {
					idx = i
				}
			}
		}
		w[idx] = 0
		bs.cand = append(bs.cand, candidate{score: acc[idx], beam: idx / V, tok: idx % V, index: idx})
	}
}

// drawIndex is one inverse-CDF draw with u in [0, 1) over the weights w
// at the indices live (ascending; entries already drawn have w 0): the
// first index where the running sum passes u times the total, or -1 when
// the total is 0.
func drawIndex(w []float64, live []int, u float64) int {
	var total float64
	for _, i := range live {
		total += w[i]
	}
	if !(total > 0) {
		return -1
	}
	t := u * total
	var c float64
	last := -1
	for _, i := range live {
		if w[i] == 0 {
			continue
		}
		c += w[i]
		last = i
		if t < c {
			return i
		}
	}
	return last
}

// drawn reports whether entry i is already among this step's candidates.
func (bs *beamSearch) drawn(i int) bool {
	for _, c := range bs.cand {
		if c.index == i {
			return true
		}
	}
	return false
}
