package encdec

import (
	"errors"
	"fmt"
	"slices"
)

// Source is an encoder's output for a batch of sources, as the models'
// Encoded types give it.
type Source interface {
	Rows() int                // number of sources
	Len(row int) int          // tokens of source row
	States(row int) []float32 // its final hidden states [Len(row), width]
}

// PackSources checks a batch of sources for an encoder pass (not empty;
// ids in [0, vocab); at most maxLen tokens each unless maxLen is 0, else
// an error wrapping errContext) and packs them one after the other: it
// returns a segment per source (Ctx its length), the number of rows and
// the number of attention probabilities of heads heads. Errors start with
// pkg.
func PackSources(pkg string, errContext error, src [][]int, maxLen, vocab, heads int) (segs []Segment, rows, probs int, err error) {
	if len(src) == 0 {
		return nil, 0, 0, errors.New(pkg + ": Encode: no sources")
	}
	segs = make([]Segment, len(src))
	for b, ids := range src {
		if len(ids) == 0 {
			return nil, 0, 0, fmt.Errorf("%s: Encode: source %d is empty", pkg, b)
		}
		if maxLen > 0 && len(ids) > maxLen {
			return nil, 0, 0, fmt.Errorf("%s: Encode: source %d has %d tokens, more than max_position_embeddings %d: %w", pkg, b, len(ids), maxLen, errContext)
		}
		if err := CheckIDs(pkg, "source", b, ids, vocab); err != nil {
			return nil, 0, 0, err
		}
		segs[b] = Segment{Seq: b, Toks: ids, Row: rows, Ctx: len(ids)}
		rows += len(ids)
		probs += heads * len(ids) * len(ids)
	}
	return segs, rows, probs, nil
}

// SplitRows returns each segment's rows of x ([rows, width]), capped so
// that appending to one cannot overwrite the next.
func SplitRows(x []float32, segs []Segment, width int) [][]float32 {
	out := make([][]float32, len(segs))
	for b, g := range segs {
		end := (g.Row + len(g.Toks)) * width
		out[b] = x[g.Row*width : end : end]
	}
	return out
}

// EncoderAttention keeps an encoder's self-attention probabilities for the
// sources of one Encode call, layer by layer (the Attention job's Probs
// after each layer's Run).
type EncoderAttention struct {
	segs  []Segment
	heads int
	probs [][]float32 // per layer: [Heads, n, n] per source at its POff
}

// NewEncoderAttention returns an empty capture for layers layers of an
// encoder over segs (the Attention job's segments, POff set by its Run).
func NewEncoderAttention(segs []Segment, heads, layers int) *EncoderAttention {
	return &EncoderAttention{segs: segs, heads: heads, probs: make([][]float32, layers)}
}

// Capture keeps a copy of layer l's probabilities.
func (a *EncoderAttention) Capture(l int, probs []float32) {
	a.probs[l] = slices.Clone(probs)
}

// Probs returns the probabilities of source row's head at layer, [n, n]
// row-major (query × key) for its n tokens; nil for a nil capture or an
// index out of range.
func (a *EncoderAttention) Probs(row, layer, head int) []float32 {
	if a == nil || row < 0 || row >= len(a.segs) || layer < 0 || layer >= len(a.probs) || head < 0 || head >= a.heads || a.probs[layer] == nil {
		return nil
	}
	g := a.segs[row]
	nn := len(g.Toks) * len(g.Toks)
	return a.probs[layer][g.POff+head*nn : g.POff+(head+1)*nn]
}
