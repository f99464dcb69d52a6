package encdec

import (
	"errors"
	"fmt"
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
