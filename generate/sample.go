package generate

import (
	"errors"
	"math"
	"math/rand/v2"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Sampling holds the decoding parameters, with transformers' meanings.
// The zero value samples from the unmodified distribution.
type Sampling struct {
	Greedy            bool    // take the most probable token (after RepetitionPenalty); the others below are ignored
	Temperature       float64 // > 0; 0 means 1
	TopK              int     // 0: off
	TopP              float64 // in (0, 1]; 0 or 1: off
	MinP              float64 // in [0, 1]; 0: off
	Typical           float64 // typical_p in (0, 1]; 0 or 1: off
	RepetitionPenalty float64 // > 0; 0 or 1: off
	NoRepeatNGramSize int     // ban any n-gram of this size from occurring twice (0: off)
	Seed              uint64  // seeds the PCG generator used to draw tokens
}

// Check reports parameters transformers would reject, as an *OptionError
// naming the setting as generation_config.json does (top_p, ...). The
// zero values that mean "off" (TopP, Typical and RepetitionPenalty 0;
// Temperature 0 reads as 1) are accepted; Resolve, which reads what a
// caller gave explicitly, refuses them.
func (s Sampling) Check() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"temperature", s.Temperature}, {"top_p", s.TopP}, {"min_p", s.MinP},
		{"typical_p", s.Typical}, {"repetition_penalty", s.RepetitionPenalty},
	} {
		if f.v == 0 {
			continue
		}
		if err := checkFloat(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkInt("top_k", s.TopK); err != nil {
		return err
	}
	if err := checkInt("no_repeat_ngram_size", s.NoRepeatNGramSize); err != nil {
		return err
	}
	return nil
}

// Processors returns the stage list for s, in transformers' order:
// repetition penalty, no-repeat n-gram, then (when sampling) temperature,
// top-k, top-p, min-p and typical. Stages that would do nothing are left
// out. (Generate and BeamSearch put the minimum-length stages of Options,
// MinLength and MinNewTokens, after the no-repeat n-gram ban, where
// transformers' _get_logits_processor has them.)
func (s Sampling) Processors() []Processor { return s.processors(nil) }

// processors is Processors with extra inserted after the repetition penalty
// and the no-repeat n-gram ban, before the sampling warpers.
func (s Sampling) processors(extra []Processor) []Processor {
	var ps []Processor
	if s.RepetitionPenalty > 0 && s.RepetitionPenalty != 1 {
		ps = append(ps, &RepetitionPenalty{Penalty: float32(s.RepetitionPenalty)})
	}
	if s.NoRepeatNGramSize > 0 {
		ps = append(ps, &NoRepeatNGram{N: s.NoRepeatNGramSize})
	}
	ps = append(ps, extra...)
	if s.Greedy {
		return ps
	}
	if s.Temperature > 0 && s.Temperature != 1 {
		ps = append(ps, &Temperature{T: float32(s.Temperature)})
	}
	if s.TopK > 0 {
		ps = append(ps, &TopK{K: s.TopK})
	}
	if s.TopP > 0 && s.TopP < 1 {
		ps = append(ps, &TopP{P: float32(s.TopP)})
	}
	if s.MinP > 0 {
		ps = append(ps, &MinP{P: float32(s.MinP)})
	}
	if s.Typical > 0 && s.Typical < 1 {
		ps = append(ps, &Typical{Mass: float32(s.Typical)})
	}
	return ps
}

// Sampler picks next tokens: it runs the processors over a copy of the
// logits and takes the argmax (greedy) or draws from the softmax.
type Sampler struct {
	greedy bool
	procs  []Processor
	rng    *rand.Rand
	buf    []float32
}

// NewSampler checks s and builds its Sampler.
func NewSampler(s Sampling) (*Sampler, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return newSampler(s, nil, 0), nil
}

// newSampler builds the Sampler of sequence seq of a generation (s
// checked): extra stages go in after the penalties (Sampling.processors)
// and the draws come from seedStream(s.Seed, seq).
func newSampler(s Sampling, extra []Processor, seq int) *Sampler {
	return &Sampler{
		greedy: s.Greedy,
		procs:  s.processors(extra),
		rng:    rand.New(seedStream(s.Seed, seq)),
	}
}

// seedStream returns the generator that draws the tokens of sequence seq
// of a generation seeded with seed: PCG(seed, seed ^ 0x6a09e667f3bcc909 ^
// seq·0x9e3779b97f4a7c15). Sequence 0 is the generator of a one-sequence
// run, so the first of GenerateN's sequences repeats Generate's with the
// same seed; the others start from states far apart on PCG's cycle.
func seedStream(seed uint64, seq int) *rand.PCG {
	return rand.NewPCG(seed, seed^0x6a09e667f3bcc909^(uint64(seq)*0x9e3779b97f4a7c15))
}

// errNoToken is returned when every token was removed (only possible with
// non-finite logits).
var errNoToken = errors.New("generate: no token left to choose (the logits are not finite)")

// Next returns the next token given the raw logits (left unchanged) and the
// ids so far, and the log-probability of that token under the raw logits
// (log-softmax, before any processing).
func (s *Sampler) Next(ids []int, logits []float32) (int, float32, error) {
	// One pass copies the logits and finds their maximum, a second sums
	// the exponentials: the log-softmax of the raw logits, for the result.
	if cap(s.buf) < len(logits) {
		s.buf = make([]float32, len(logits))
	}
	x := s.buf[:len(logits)]
	m := negInf
	for i, v := range logits {
		x[i] = v
		if v > m {
			m = v
		}
	}
	lse := float64(m) + math.Log(sumExpShifted(logits, m))
	for _, p := range s.procs {
		p.Process(ids, x)
	}
	tok := -1
	if s.greedy {
		best := negInf
		for i, v := range x {
			if v > best {
				best, tok = v, i
			}
		}
	} else {
		tok = s.draw(x)
	}
	if tok < 0 {
		return 0, 0, errNoToken
	}
	return tok, float32(float64(logits[tok]) - lse), nil
}

// draw samples an index from softmax(x) (x is overwritten).
func (s *Sampler) draw(x []float32) int {
	m := negInf
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) || math.IsNaN(float64(m)) {
		return -1
	}
	var sum float64
	for i, v := range x {
		if v == negInf { // most of the vocabulary after top-k: skip the exp
			x[i] = 0
			continue
		}
		e := expNeg(float64(v - m))
		x[i] = float32(e)
		sum += e
	}
	u := s.rng.Float64() * sum
	var acc float64
	last := -1
	for i, e := range x {
		if e == 0 {
			continue
		}
		acc += float64(e)
		last = i
		if u < acc {
			return i
		}
	}
	return last // rounding: u landed past the final sum
}

// logSoftmaxAt returns log(softmax(x)[i]).
func logSoftmaxAt(x []float32, i int) float32 {
	m := negInf
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return float32(float64(x[i]-m) - math.Log(sumExpShifted(x, m)))
}

// sumExpShifted returns sum_i e^(x[i]-m) for m = max(x). It runs once per
// generated token (and per beam) over the whole vocabulary, so it uses the
// kernels' vectorised exp.
func sumExpShifted(x []float32, m float32) float64 { return kernels.SumExp(x, m) }

// expNeg returns e^x for x <= 0 with a relative error below 2e-7 (enough
// for a float32 log-probability), several times faster than math.Exp: x =
// n·ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial, 2^n
// from the exponent bits. Results below 1e-300 are flushed to 0.
func expNeg(x float64) float64 {
	const (
		log2e = 1.4426950408889634
		ln2hi = 6.93147180369123816490e-01 // ln2 split so that n·ln2hi is exact
		ln2lo = 1.90821492927058770002e-10
	)
	if !(x > -690) { // also NaN and -Inf
		return 0
	}
	n := int(x*log2e - 0.5) // round to nearest (x <= 0)
	r := x - float64(n)*ln2hi - float64(n)*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(n+1023)<<52)
}

// setMinKeep sets min_tokens_to_keep (MinKeep) on the truncating warpers
// of ps, as transformers' _get_logits_processor does for beam sampling.
func setMinKeep(ps []Processor, n int) {
	for _, p := range ps {
		switch p := p.(type) {
		case *TopK:
			p.MinKeep = n
		case *TopP:
			p.MinKeep = n
		case *MinP:
			p.MinKeep = n
		case *Typical:
			p.MinKeep = n
		}
	}
}
