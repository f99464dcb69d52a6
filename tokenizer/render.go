package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/loupe-ml/loupe/internal/textlines"
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

// WriteJSON writes e as one line of JSON, {"ids": [...], "tokens": [...]}
// (loupe tokenize --format json), with "id" first when id is not nil.
func WriteJSON(w io.Writer, e Encoding, id json.RawMessage) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		ID     json.RawMessage `json:"id,omitempty"`
		IDs    []int           `json:"ids"`
		Tokens []string        `json:"tokens"`
	}{id, e.IDs, e.Tokens})
}

// EncodeLines encodes the text of each line of a JSON lines file (path "-"
// reads stdin), a JSON string or an object with a "text" string and
// perhaps an "id", and writes a WriteJSON line for it (with its id) to w.
// The lines encoded before an error are written.
func EncodeLines(t Tokenizer, opt EncodeOptions, path string, stdin io.Reader, w io.Writer) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	err := textlines.Read(path, stdin, func(_ int, text string, id json.RawMessage) error {
		return WriteJSON(bw, t.EncodeText(text, opt), id)
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
