package retrieval

import (
	"bufio"
	"fmt"
	"io"

	"github.com/loupe-ml/loupe/internal/textfmt"
)

// Query is the neighbours of one text, as loupe rag query prints them.
type Query struct {
	Text   string       `json:"text"`
	Chunks []InputChunk `json:"chunks"`
}

// WriteText writes the neighbours of each query: a heading per input
// chunk (its number, token range and text), then one block per neighbour
// (rank, score, source, chunk number and token offset, the chunk's text
// and its continuation, each on one line cut to width runes).
func WriteText(w io.Writer, queries []Query, width int) error {
	bw := bufio.NewWriter(w)
	for qi, q := range queries {
		if qi > 0 {
			fmt.Fprintln(bw)
		}
		if len(queries) > 1 {
			fmt.Fprintf(bw, "query: %s\n", textfmt.OneLine(q.Text, width))
		}
		for _, c := range q.Chunks {
			fmt.Fprintf(bw, "chunk %d (tokens %d-%d): %s\n", c.Chunk, c.Offset, c.Offset+c.Tokens-1, textfmt.OneLine(c.Text, width))
			for _, n := range c.Neighbours {
				fmt.Fprintf(bw, "  %d. score %.4f  %s chunk %d (token %d)\n", n.Rank, n.Score, n.Source, n.Chunk, n.Offset)
				fmt.Fprintf(bw, "     chunk:        %s\n", textfmt.OneLine(n.Text, width))
				cont := "(end of file)"
				if n.Continuation != "" {
					cont = textfmt.OneLine(n.Continuation, width)
				}
				fmt.Fprintf(bw, "     continuation: %s\n", cont)
			}
			if len(c.Neighbours) == 0 {
				fmt.Fprintln(bw, "  no chunks match")
			}
		}
	}
	return bw.Flush()
}
