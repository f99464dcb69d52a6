package generate

import (
	"math"
	"slices"

	"github.com/loupe-ml/loupe/internal/heap"
)

// A Processor is one stage of the logits-processing list. Process rewrites
// logits (one row, the vocabulary) in place, given the ids of the sequence
// so far (prompt and generated tokens). Removed tokens get -Inf. A
// Processor may keep scratch space between calls and is not safe for
// concurrent use.
type Processor interface {
	Process(ids []int, logits []float32)
}

var negInf = float32(math.Inf(-1))

// RepetitionPenalty divides the positive logits, and multiplies the
// negative ones, of every token present in ids by Penalty (> 0; 1 is a
// no-op), as in Hugging Face's RepetitionPenaltyLogitsProcessor (CTRL's
// penalty). Each token is penalised once however often it occurs.
type RepetitionPenalty struct {
	Penalty float32
	seen    []bool
}

// Process implements Processor.
func (p *RepetitionPenalty) Process(ids []int, logits []float32) {
	if len(p.seen) < len(logits) {
		p.seen = make([]bool, len(logits))
	}
	for _, id := range ids {
		if id < 0 || id >= len(logits) || p.seen[id] {
			continue
		}
		p.seen[id] = true
		if v := logits[id]; v < 0 {
			logits[id] = v * p.Penalty
		} else {
			logits[id] = v / p.Penalty
		}
	}
	for _, id := range ids {
		if id >= 0 && id < len(logits) {
			p.seen[id] = false
		}
	}
}

// NoRepeatNGram bans every token that would complete an n-gram of N
// tokens already present in ids (prompt included), as transformers'
// NoRepeatNGramLogitsProcessor: the tokens that followed an earlier
// occurrence of the last N-1 ids get -Inf. With N = 1 every token in ids is
// banned. N below 1 does nothing.
type NoRepeatNGram struct{ N int }

// Process implements Processor.
func (p *NoRepeatNGram) Process(ids []int, logits []float32) {
	n := p.N
	if n < 1 || len(ids)+1 < n {
		return
	}
	prefix := ids[len(ids)-(n-1):]
	for i := 0; i+n <= len(ids); i++ {
		if slices.Equal(ids[i:i+n-1], prefix) {
			if id := ids[i+n-1]; id >= 0 && id < len(logits) {
				logits[id] = negInf
			}
		}
	}
}

// MinLength keeps the end-of-sequence tokens from being chosen while the
// sequence, prompt included, is shorter than Length: while len(ids) <
// Length every id of EOS gets -Inf, as in transformers'
// MinLengthLogitsProcessor (min_length). Ids outside the vocabulary are
// ignored.
type MinLength struct {
	Length int
	EOS    []int
}

// Process implements Processor.
func (p *MinLength) Process(ids []int, logits []float32) {
	if len(ids) < p.Length {
		banIDs(logits, p.EOS)
	}
}

// MinNewTokens keeps the end-of-sequence tokens from being chosen until N
// tokens follow the prompt's PromptLen: while len(ids)-PromptLen < N every
// id of EOS gets -Inf, as in transformers'
// MinNewTokensLengthLogitsProcessor (min_new_tokens). The first N generated
// tokens are then never EOS.
type MinNewTokens struct {
	PromptLen, N int
	EOS          []int
}

// Process implements Processor.
func (p *MinNewTokens) Process(ids []int, logits []float32) {
	if len(ids)-p.PromptLen < p.N {
		banIDs(logits, p.EOS)
	}
}

// banIDs sets the logits of ids (those in range) to -Inf.
func banIDs(logits []float32, ids []int) {
	for _, id := range ids {
		if id >= 0 && id < len(logits) {
			logits[id] = negInf
		}
	}
}

// Temperature divides every logit by T (> 0).
type Temperature struct{ T float32 }

// Process implements Processor.
func (p *Temperature) Process(_ []int, logits []float32) {
	for i := range logits {
		logits[i] /= p.T
	}
}

// TopK keeps the K highest logits (and every logit equal to the K-th
// highest: ties are kept, as torch.topk's threshold does in transformers'
// TopKLogitsWarper). K below 1 is taken as 1; K at or above the vocabulary
// size keeps everything. MinKeep is transformers' min_tokens_to_keep: K is
// raised to it (beam sampling keeps 1 + the number of EOS ids; 0 means 1).
type TopK struct {
	K       int
	MinKeep int
	scratch []float32                   // kthLargest's copy of the logits
	heap    heap.Min[float32, struct{}] // kthByHeap's k largest
}

// Process implements Processor.
func (p *TopK) Process(_ []int, logits []float32) {
	k := max(p.K, p.MinKeep, 1)
	if k >= len(logits) {
		return
	}
	var thr float32
	if k <= 512 {
		thr = p.kthByHeap(logits, k)
	} else {
		p.scratch = append(p.scratch[:0], logits...)
		thr = kthLargest(p.scratch, k)
	}
	for i, v := range logits {
		if v < thr {
			logits[i] = negInf
		}
	}
}

// kthByHeap returns the k-th largest value of x with a min-heap of the k
// largest values seen: one comparison per element once the heap is full,
// which suits the small k of sampling.
func (p *TopK) kthByHeap(x []float32, k int) float32 {
	h := p.heap[:0]
	for _, v := range x[:k] {
		h = append(h, heap.Item[float32, struct{}]{Key: v})
	}
	h.Init()
	for _, v := range x[k:] {
		if v > h[0].Key {
			h.ReplaceTop(heap.Item[float32, struct{}]{Key: v})
		}
	}
	p.heap = h
	return h[0].Key
}

// kthLargest returns the k-th largest value of x (1-based), reordering x
// (quickselect, expected linear time). NaNs are not expected.
func kthLargest(x []float32, k int) float32 {
	lo, hi := 0, len(x)-1
	want := k - 1 // index in descending order
	for lo < hi {
		// Median of three as the pivot.
		mid := lo + (hi-lo)/2
		if x[mid] > x[lo] {
			x[mid], x[lo] = x[lo], x[mid]
		}
		if x[hi] > x[lo] {
			x[hi], x[lo] = x[lo], x[hi]
		}
		if x[hi] > x[mid] {
			x[hi], x[mid] = x[mid], x[hi]
		}
		pivot := x[mid]
		// Three-way partition: > pivot, == pivot, < pivot.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := x[i]; {
			case v > pivot:
				x[lt], x[i] = x[i], x[lt]
				lt++
				i++
			case v < pivot:
				x[i], x[gt] = x[gt], x[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case want < lt:
			hi = lt - 1
		case want > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return x[want]
}

// candidates lists the tokens with finite logits and their probabilities
// under softmax(logits), sorted by decreasing probability (then by id).
type candidates struct {
	idx  []int
	prob []float32 // by token id
}

func (c *candidates) fill(logits []float32, minProb float32) (mass float64) {
	if len(c.prob) < len(logits) {
		c.prob = make([]float32, len(logits))
	}
	softmaxInto(c.prob[:len(logits)], logits)
	c.idx = c.idx[:0]
	for i, q := range c.prob[:len(logits)] {
		if q >= minProb && q > 0 {
			c.idx = append(c.idx, i)
			mass += float64(q)
		}
	}
	prob := c.prob
	slices.SortFunc(c.idx, func(a, b int) int {
		switch {
		case prob[a] > prob[b]:
			return -1
		case prob[a] < prob[b]:
			return 1
		}
		return a - b
	})
	return mass
}

// softmaxInto writes softmax(x) to dst, in float64 sums; -Inf gives 0.
func softmaxInto(dst, x []float32) {
	m := negInf
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	var sum float64
	for i, v := range x {
		e := expNeg(float64(v - m))
		dst[i] = float32(e)
		sum += e
	}
	inv := 1 / sum
	for i := range dst {
		dst[i] = float32(float64(dst[i]) * inv)
	}
}

// TopP (nucleus sampling) keeps the smallest set of most probable tokens
// whose probabilities sum to at least P, and at least one token, as
// transformers' TopPLogitsWarper: a token is removed when the probability
// mass of the tokens ranked above it already reaches P. MinKeep (0 means 1)
// is min_tokens_to_keep: the MinKeep most probable tokens always stay.
type TopP struct {
	P       float32
	MinKeep int
	c       candidates
}

// Process implements Processor.
func (p *TopP) Process(_ []int, logits []float32) {
	if p.P >= 1 {
		return
	}
	// Sorting the whole vocabulary is slow; only tokens above a threshold
	// can be kept once the tokens above it hold P of the mass.
	for thr := float32(1e-4); ; thr *= 1e-3 {
		if thr < 1e-30 {
			thr = 0
		}
		mass := p.c.fill(logits, thr)
		if mass >= float64(p.P) || thr == 0 {
			break
		}
	}
	var above float64
	n := 0
	for _, i := range p.c.idx {
		if n > 0 && above >= float64(p.P) {
			break
		}
		above += float64(p.c.prob[i])
		n++
	}
	if n < p.MinKeep {
		if len(p.c.idx) < p.MinKeep {
			p.c.fill(logits, 0) // every token with a probability above 0
		}
		n = min(p.MinKeep, len(p.c.idx))
	}
	markKept(logits, p.c.idx[:n], &p.c)
}

// markKept sets every logit not in kept to -Inf, using c.prob as scratch.
func markKept(logits []float32, kept []int, c *candidates) {
	flag := c.prob[:len(logits)]
	for _, i := range kept {
		flag[i] = -1 // probabilities are >= 0: -1 marks a kept token
	}
	for i := range logits {
		if flag[i] != -1 {
			logits[i] = negInf
		}
	}
}

// MinP keeps the tokens whose probability is at least P times that of the
// most probable token (transformers' MinPLogitsWarper); the most probable
// token always stays. MinKeep (0 means 1) is min_tokens_to_keep: the
// MinKeep most probable tokens always stay (and any tied with the last).
type MinP struct {
	P       float32
	MinKeep int
	prob    []float32
	scratch []float32
}

// Process implements Processor.
func (p *MinP) Process(_ []int, logits []float32) {
	if len(p.prob) < len(logits) {
		p.prob = make([]float32, len(logits))
	}
	prob := p.prob[:len(logits)]
	softmaxInto(prob, logits)
	top := float32(0)
	for _, q := range prob {
		top = max(top, q)
	}
	thr := p.P * top
	if p.MinKeep > 1 {
		p.scratch = append(p.scratch[:0], prob...)
		thr = min(thr, kthLargest(p.scratch, min(p.MinKeep, len(prob))))
	}
	for i, q := range prob {
		if q < thr {
			logits[i] = negInf
		}
	}
}

// Typical (locally typical sampling, Meister et al. 2022) keeps the tokens
// whose surprisal is closest to the distribution's entropy until their
// probabilities sum to Mass, as transformers' TypicalLogitsWarper.
// MinKeep (0 means 1) is min_tokens_to_keep: the MinKeep most typical
// tokens always stay.
type Typical struct {
	Mass    float32
	MinKeep int
	c       candidates
	shift   []float32
}

// Process implements Processor.
func (p *Typical) Process(_ []int, logits []float32) {
	if p.Mass >= 1 {
		return
	}
	V := len(logits)
	if len(p.c.prob) < V {
		p.c.prob = make([]float32, V)
		p.shift = make([]float32, V)
	}
	prob := p.c.prob[:V]
	softmaxInto(prob, logits)
	var ent float64
	for _, q := range prob {
		if q > 0 {
			ent -= float64(q) * math.Log(float64(q))
		}
	}
	p.c.idx = p.c.idx[:0]
	for i, q := range prob {
		if q > 0 {
			p.shift[i] = float32(math.Abs(-math.Log(float64(q)) - ent))
		} else {
			p.shift[i] = float32(math.Inf(1))
		}
		p.c.idx = append(p.c.idx, i)
	}
	shift := p.shift
	slices.SortStableFunc(p.c.idx, func(a, b int) int {
		switch {
		case shift[a] < shift[b]:
			return -1
		case shift[a] > shift[b]:
			return 1
		}
		return 0
	})
	// last is the number of sorted tokens whose cumulative mass is below
	// Mass; the token at that rank sets the cut (ties with it are kept).
	var cum float64
	last := 0
	for _, i := range p.c.idx {
		cum += float64(prob[i])
		if cum < float64(p.Mass) {
			last++
		} else {
			break
		}
	}
	last = min(last, V-1)
	cut := shift[p.c.idx[last]]
	keep := max(p.MinKeep, 1)
	for r, i := range p.c.idx {
		if r >= keep && shift[i] > cut {
			logits[i] = negInf
		}
	}
}

// NoBadWords bans token sequences, as transformers'
// NoBadWordsLogitsProcessor (bad_words_ids): the token of every
// one-token sequence gets -Inf at every step, and the last token of a
// longer sequence gets -Inf when ids end with its other tokens. Build it
// with NewNoBadWords.
type NoBadWords struct {
	single []int   // banned at every step
	multi  [][]int // banned after their prefix
}

// NewNoBadWords returns the processor banning words, leaving out every
// one-token sequence that is an id of eos (as transformers does, so that
// a sequence can still end).
func NewNoBadWords(words [][]int, eos []int) *NoBadWords {
	p := &NoBadWords{}
	for _, w := range words {
		switch {
		case len(w) == 0:
		case len(w) == 1 && slices.Contains(eos, w[0]):
		case len(w) == 1:
			p.single = append(p.single, w[0])
		default:
			p.multi = append(p.multi, slices.Clone(w))
		}
	}
	return p
}

// Process implements Processor.
func (p *NoBadWords) Process(ids []int, logits []float32) {
	banIDs(logits, p.single)
	for _, w := range p.multi {
		pre := w[:len(w)-1]
		if len(ids) >= len(pre) && slices.Equal(ids[len(ids)-len(pre):], pre) {
			if id := w[len(w)-1]; id >= 0 && id < len(logits) {
				logits[id] = negInf
			}
		}
	}
}

// ForcedBOS makes ID the only possible token after a sequence of one
// token (an encoder-decoder's decoder start token), as transformers'
// ForcedBOSTokenLogitsProcessor (forced_bos_token_id): when len(ids) is 1
// every other logit gets -Inf and ID's becomes 0.
type ForcedBOS struct{ ID int }

// Process implements Processor.
func (p *ForcedBOS) Process(ids []int, logits []float32) {
	if len(ids) == 1 {
		force(logits, []int{p.ID})
	}
}

// ForcedEOS makes the ids of IDs the only possible tokens when one more
// token makes the sequence MaxLength long, as transformers'
// ForcedEOSTokenLogitsProcessor (forced_eos_token_id, max_length): when
// len(ids) is MaxLength-1 every other logit gets -Inf and theirs become 0.
type ForcedEOS struct {
	MaxLength int
	IDs       []int
}

// Process implements Processor.
func (p *ForcedEOS) Process(ids []int, logits []float32) {
	if len(ids) == p.MaxLength-1 {
		force(logits, p.IDs)
	}
}

// force sets every logit to -Inf but those of ids (in range), which
// become 0.
func force(logits []float32, ids []int) {
	for i := range logits {
		logits[i] = negInf
	}
	for _, id := range ids {
		if id >= 0 && id < len(logits) {
			logits[id] = 0
		}
	}
}
