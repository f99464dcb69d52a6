package textlines

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := "\"a\"\n\n  \n{\"text\": \"b\", \"id\": 7}\n"
	var got []string
	err := Read("-", strings.NewReader(in), func(line int, text string, id json.RawMessage) error {
		got = append(got, strings.TrimSpace(string(rune('0'+line))+" "+text+" "+string(id)))
		return nil
	})
	if err != nil || strings.Join(got, "|") != "1 a|4 b 7" {
		t.Errorf("Read = %q, %v", got, err)
	}
	for in, want := range map[string]string{
		"\"a\"\nplain\n":   "standard input line 2: want a JSON string or an object",
		"{\"id\": 1}\n":    "standard input line 1: want a JSON string",
		"\"caf\xe9\"\n":    "standard input line 1 is not valid UTF-8",
		"\"a\"\n{\"text\"": "standard input line 2: want",
	} {
		err := Read("-", strings.NewReader(in), func(int, string, json.RawMessage) error { return nil })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Read(%q) = %v, want %q", in, err, want)
		}
	}
	if err := Read("/nonexistent/x.jsonl", nil, nil); err == nil || !strings.HasPrefix(err.Error(), "--input: ") {
		t.Errorf("missing file: %v", err)
	}
}
