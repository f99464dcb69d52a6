package retrieval

// DefaultChunkTokens is RETRO's chunk size N (and continuation size F).
const DefaultChunkTokens = 64

// Span is one chunk of a token sequence: tokens [Start, End) are the
// chunk and [End, ContEnd) its continuation, the tokens that follow it
// (RETRO's [N, F] pair).
type Span struct {
	Start, End, ContEnd int
}

// Len returns the number of tokens in the chunk.
func (s Span) Len() int { return s.End - s.Start }

// Split cuts a sequence of n tokens into chunks of size tokens (size must
// be positive): chunk i is [i·size, min((i+1)·size, n)), the last one
// shorter when size does not divide n, and each chunk's continuation is
// the next chunk (empty for the last). An empty sequence has no chunks.
func Split(n, size int) []Span {
	if n <= 0 || size <= 0 {
		return nil
	}
	spans := make([]Span, 0, (n+size-1)/size)
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		spans = append(spans, Span{Start: start, End: end, ContEnd: min(end+size, n)})
	}
	return spans
}
