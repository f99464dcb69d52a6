package perplexity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Options are the window settings. The zero value is not valid: start from
// DefaultOptions.
type Options struct {
	// MaxLength is the number of tokens of a window, 1 to the model's
	// n_positions (transformers' max_length).
	MaxLength int
	// Stride is how far each window starts after the previous one, 1 to
	// MaxLength. Stride = MaxLength gives disjoint windows (fastest; the
	// first token of each window has no context and is not scored);
	// a smaller stride gives each target more context at the cost of
	// MaxLength/Stride times the computation.
	Stride int
	// Mixer, if not nil, rewrites the log-probability of every target
	// before it is summed (kNN-LM's interpolation, package
	// retrieval/knnlm), given the final hidden states (ln_f output) of the
	// rows that predict them. nil: the model's own log-probabilities.
	Mixer Mixer
}

// Mixer rewrites the log-probabilities of a chunk of targets. Mix is
// called once per chunk of up to MixRows targets (gathered across windows,
// so that a search can batch them), in stream order, from one goroutine: hidden holds n rows of the model's final hidden state (the
// ln_f output, Config.NEmbd floats each; row i is the position that
// predicts targets[i]), pos[i] is the stream position of that row (so
// targets[i] = ids[pos[i]+1]), and logp[i] the model's log p(targets[i]),
// which Mix may overwrite. None of the slices may be kept after the call.
type Mixer interface {
	Mix(hidden []float32, pos, targets []int, logp []float64) error
}

// DefaultOptions returns the guide's settings for a model of configuration
// c: windows of n_positions tokens (1024 for GPT-2) and a stride of half
// that (DefaultStride: 512 for GPT-2, as the guide uses).
func DefaultOptions(c gpt2.Config) Options {
	return Options{MaxLength: c.NPositions, Stride: DefaultStride(c.NPositions)}
}

// DefaultStride is the stride DefaultOptions pairs with windows of
// maxLength tokens: half of it, at least 1. A caller that changes
// MaxLength and leaves the stride to the default uses this.
func DefaultStride(maxLength int) int { return max(maxLength/2, 1) }

// OptionError reports an Options field out of range.
type OptionError struct {
	Field   string // "max_length" or "stride"
	Value   int    // the value given
	Allowed string // what the field accepts, e.g. "1 to 1024 (the model's n_positions)"
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("perplexity: %s %d: want %s", e.Field, e.Value, e.Allowed)
}

// Check reports the first field of o that a model of configuration c
// cannot use, as an *OptionError.
func (o Options) Check(c gpt2.Config) error {
	switch {
	case o.MaxLength < 1 || o.MaxLength > c.NPositions:
		return &OptionError{"max_length", o.MaxLength, fmt.Sprintf("1 to %d (the model's n_positions)", c.NPositions)}
	case o.Stride < 1 || o.Stride > o.MaxLength:
		return &OptionError{"stride", o.Stride, fmt.Sprintf("1 to max_length (%d)", o.MaxLength)}
	}
	return nil
}

// Result is the outcome of Evaluate.
type Result struct {
	Perplexity  float64 `json:"perplexity"`   // exp(NLL)
	NLL         float64 `json:"nll"`          // mean negative log-likelihood per target token, in nats
	Tokens      int     `json:"tokens"`       // target tokens scored
	InputTokens int     `json:"input_tokens"` // tokens in the stream
	Windows     int     `json:"windows"`      // windows of the guide's loop
	MaxLength   int     `json:"max_length"`   // Options.MaxLength used
	Stride      int     `json:"stride"`       // Options.Stride used
	Seconds     float64 `json:"seconds"`      // time spent in Evaluate
}

// Separator joins the texts given to Tokenize, as the guide joins the lines
// of WikiText-2's test split before tokenizing them once.
const Separator = "\n\n"

// ErrEmpty is returned by Tokenize when every text is empty.
var ErrEmpty = errors.New("perplexity: empty text")

// Tokenize joins texts with Separator and tokenizes the result once, with
// special tokens written in the text ("<|endoftext|>") recognised, as a
// transformers tokenizer called on the joined string does. Empty texts
// still add their separators (the guide's join keeps WikiText's empty
// lines); all of them empty is ErrEmpty.
func Tokenize(tok tokenizer.Tokenizer, texts []string) ([]int, error) {
	empty := true
	for _, t := range texts {
		if t != "" {
			empty = false
			break
		}
	}
	if empty {
		return nil, ErrEmpty
	}
	return tok.EncodeText(strings.Join(texts, Separator), tokenizer.EncodeOptions{AllowSpecial: true}).IDs, nil
}

// Window is one step of the guide's loop: the model sees ids[Begin:End]
// and scores the targets ids[First:End] (none when First = End).
type Window struct{ Begin, First, End int }

// Windows lists the windows of a stream of n tokens: begin = 0, Stride,
// 2·Stride, … until a window reaches n. The targets of a window are its
// tokens after the previous window's end (trg_len = end - prev_end), less
// its first token, which nothing in the window precedes. Every position
// 1..n-1 is the target of exactly one window.
func Windows(n int, o Options) []Window {
	var ws []Window
	prevEnd := 0
	for begin := 0; begin < n; begin += o.Stride {
		end := min(begin+o.MaxLength, n)
		ws = append(ws, Window{Begin: begin, First: max(prevEnd, begin+1), End: end})
		prevEnd = end
		if end == n {
			break
		}
	}
	return ws
}

// chunkRows is the number of positions whose logits one Forward call
// computes: the [chunkRows, vocab] logits are the largest buffer Evaluate
// holds (103 MB for GPT-2's 50257 tokens). Each chunk's LM-head product
// packs the whole [vocab, C] head once, so smaller chunks cost more: with a
// GPT-2-small-shaped head, 128 rows were about 1.4 times slower per token
// than 512 (BenchmarkPerplexityWide). 512 is also the rows of one pass of
// the State's default MaxRows.
var chunkRows = 512

// MixRows is the number of targets Evaluate gathers before it calls a
// Mixer (the last call may have fewer; a call may have up to 511 more).
var MixRows = 1024

// Evaluate returns the perplexity of m on the token stream ids with the
// sliding windows of opt (see the package documentation). progress, if not
// nil, is called after each chunk of targets with the number of targets
// scored so far and in all. It stops between chunks when ctx is done.
// Errors: an *OptionError for opt, fewer than 2 tokens, a token id outside
// the model's vocabulary.
func Evaluate(ctx context.Context, m *gpt2.Model, ids []int, opt Options, progress func(done, total int)) (*Result, error) {
	start := time.Now()
	c := m.Config
	if err := opt.Check(c); err != nil {
		return nil, err
	}
	if len(ids) < 2 {
		return nil, fmt.Errorf("perplexity: %d token(s): at least 2 are needed (the first token is never a target)", len(ids))
	}
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("perplexity: token %d at position %d is outside the model's vocabulary [0, %d)", id, i, c.VocabSize)
		}
	}
	ws := Windows(len(ids), opt)
	var sum float64
	total := 0
	for _, w := range ws {
		total += w.End - w.First
	}
	var (
		mixHidden []float32 // targets waiting for the Mixer: ln_f rows,
		mixPos    []int     // stream positions of those rows,
		mixTgt    []int     // targets,
		mixLogp   []float64 // and the model's log-probabilities
	)
	mix := func() error {
		if len(mixTgt) == 0 {
			return nil
		}
		if err := opt.Mixer.Mix(mixHidden, mixPos, mixTgt, mixLogp); err != nil {
			return err
		}
		for _, lp := range mixLogp {
			sum -= lp
		}
		mixHidden, mixPos, mixTgt, mixLogp = mixHidden[:0], mixPos[:0], mixTgt[:0], mixLogp[:0]
		return nil
	}
	e := &evaluator{
		s:    m.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: opt.MaxLength}),
		V:    c.VocabSize,
		logp: make([]float64, chunkRows),
	}
	var fopt gpt2.ForwardOptions
	if opt.Mixer != nil {
		e.hidden = make([]float32, chunkRows*c.NEmbd)
		fopt.Hook = e.lnf
	}
	done := 0
	for _, w := range ws {
		if w.First == w.End {
			continue // a one-token last window: nothing to score
		}
		e.s.Reset()
		toks := ids[w.Begin:w.End]
		// Row r of the window predicts toks[r+1]; the targets
		// toks[first:] need the logits of rows [first-1, len-1). The rows
		// before only fill the cache, and the last row is not needed.
		r0 := w.First - w.Begin - 1
		if r0 > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := e.s.Forward([][]int{toks[:r0]}, gpt2.ForwardOptions{}); err != nil {
				return nil, err
			}
		}
		for r := r0; r < len(toks)-1; r += chunkRows {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			hi := min(r+chunkRows, len(toks)-1)
			e.row0 = r
			if err := e.s.Forward([][]int{toks[r:hi]}, gpt2.ForwardOptions{AllLogits: true, Hook: fopt.Hook}); err != nil {
				return nil, err
			}
			logp := e.lmLogProbs(e.s.AllLogits(0), toks[r+1:hi+1])
			if opt.Mixer != nil {
				n := hi - r
				mixHidden = append(mixHidden, e.hidden[:n*c.NEmbd]...)
				for i := range n {
					mixPos = append(mixPos, w.Begin+r+i)
				}
				mixTgt = append(mixTgt, toks[r+1:hi+1]...)
				mixLogp = append(mixLogp, logp...)
				if len(mixTgt) >= MixRows {
					if err := mix(); err != nil {
						return nil, err
					}
				}
			} else {
				for _, lp := range logp {
					sum -= lp
				}
			}
			done += hi - r
			if progress != nil {
				progress(done, total)
			}
		}
	}
	if opt.Mixer != nil {
		if err := mix(); err != nil {
			return nil, err
		}
	}
	nll := sum / float64(total)
	return &Result{
		Perplexity: math.Exp(nll), NLL: nll, Tokens: total, InputTokens: len(ids),
		Windows: len(ws), MaxLength: opt.MaxLength, Stride: opt.Stride,
		Seconds: time.Since(start).Seconds(),
	}, nil
}

// evaluator holds what Evaluate reuses from chunk to chunk.
type evaluator struct {
	s    *gpt2.State
	V    int
	logp []float64 // log-probability of each target of a chunk

	logits  []float32 // the chunk's [rows, V] logits, for rowLogProbs
	targets []int

	// With a Mixer: the chunk's ln_f rows and the cache position of the
	// chunk's first row.
	hidden []float32
	row0   int
}

// lnf is the Forward hook that copies the ln_f rows of a chunk into
// e.hidden.
func (e *evaluator) lnf(a *gpt2.Activation) {
	if a.Name == "ln_f" {
		C := a.Shape[1]
		copy(e.hidden[(a.Pos-e.row0)*C:], a.Data)
	}
}

// lmLogProbs returns log softmax(logits row i)[targets[i]] for each row of
// logits ([len(targets), V]), the rows split across threads. The slice is
// reused by the next call.
func (e *evaluator) lmLogProbs(logits []float32, targets []int) []float64 {
	e.logits, e.targets = logits, targets
	kernels.Parallel(len(targets), 1, e.rowLogProbs)
	e.logits, e.targets = nil, nil
	return e.logp[:len(targets)]
}

// rowLogProbs computes e.logp for rows [lo, hi): x[t] - max - log Σ
// exp(x - max), the sum in float64.
func (e *evaluator) rowLogProbs(lo, hi int) {
	V := e.V
	for i := lo; i < hi; i++ {
		x := e.logits[i*V : (i+1)*V]
		m := x[kernels.Argmax(x)]
		e.logp[i] = float64(x[e.targets[i]]) - float64(m) - math.Log(kernels.SumExp(x, m))
	}
}
