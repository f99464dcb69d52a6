package tokenizer

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteTable writes e as loupe tokenize prints it: each token's id, its
// vocabulary string and the text it stands for (quoted, from t), then the
// count.
func WriteTable(w io.Writer, t Tokenizer, e Encoding) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTOKEN\tTEXT")
	for i, id := range e.IDs {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", id, e.Tokens[i], strconv.Quote(t.TokenText(id)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d tokens\n", len(e.IDs))
	return err
}
