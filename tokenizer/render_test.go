package tokenizer

import (
	"bytes"
	"strings"
	"testing"
)

// TestEncodeLines: each line gives one JSON object, ids copied, special
// tokens unescaped; the lines before a bad one are written.
func TestEncodeLines(t *testing.T) {
	var out bytes.Buffer
	in := "\"Hello world\"\n\n{\"id\": 7, \"text\": \"<|endoftext|>\"}\n{\"text\": 3}\n"
	err := EncodeLines(gpt2(t), EncodeOptions{AllowSpecial: true}, "-", strings.NewReader(in), &out)
	want := `{"ids":[15496,995],"tokens":["Hello","Ġworld"]}
{"id":7,"ids":[50256],"tokens":["<|endoftext|>"]}
`
	if out.String() != want || err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("got %q, %v\nwant %q and a line 4 error", out.String(), err, want)
	}
}
