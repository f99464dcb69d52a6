package explain

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/generate"
)

func TestDisplayToken(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{" the", "␣the"},
		{"the", "the"},
		{"   ", "␣␣␣"},
		{"\n\n", "↵↵"},
		{"\t", "→"},
		{"\xe6", `\xe6`},         // the first byte of a 3-byte character
		{"\x97\xa5", `\x97\xa5`}, // its last two
		{" \xf0\x9f", `␣\xf0\x9f`},
		{"日本", "日本"},
		{"\x1b[31m", `\x1b[31m`},
		{"", ""},
	} {
		if got := DisplayToken([]byte(c.in)); got != c.want {
			t.Errorf("DisplayToken(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestExplainerTokens: an Explainer's token strings mark spaces and show
// stray bytes as \xNN (never U+FFFD), and the JSON keeps the raw text.
func TestExplainerTokens(t *testing.T) {
	e := LoadTestExplainer(t)
	if got := e.TokenText(e.Tok.Encode(" a")[0]); got != "␣a" {
		t.Errorf(`TokenText(" a") = %q, want "␣a"`, got)
	}
	bytesSeen := 0
	for id := 0; id < e.Tok.VocabSize(); id++ {
		raw := e.Tok.DecodeBytes([]int{id})
		s := e.TokenText(id)
		if strings.ContainsRune(s, utf8.RuneError) {
			t.Errorf("token %d (%q) shows as %q, with U+FFFD", id, raw, s)
		}
		if !utf8.Valid(raw) {
			bytesSeen++
			if !strings.Contains(s, `\x`) {
				t.Errorf("token %d (%q) shows as %q, without \\xNN", id, raw, s)
			}
		}
	}
	if bytesSeen == 0 {
		t.Fatal("the test vocabulary has no byte-level tokens")
	}
	cont := " at the"
	res, err := e.Explain(context.Background(), Request{Prompt: "the hat", Continuation: &cont, Options: Options{NoAttention: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Tokens, ""); got != "the␣hat␣at␣the" {
		t.Errorf("tokens %q", res.Tokens)
	}
	if got := strings.Join(res.RawTokens, ""); got != "the hat at the" || res.Text != got {
		t.Errorf("raw tokens %q, text %q", res.RawTokens, res.Text)
	}
	b, _ := json.Marshal(res)
	var v map[string]any
	json.Unmarshal(b, &v)
	if v["raw_tokens"] == nil || v["text"] != "the hat at the" {
		t.Errorf("JSON lacks raw_tokens or text: %.300s", b)
	}
	res, err = e.Explain(context.Background(), Request{Prompt: "the hat", Generate: generate.Options{MaxNewTokens: 2, Sampling: generate.Sampling{Greedy: true}},
		Options: Options{NoAttention: true, Interventions: []Intervention{{Layer: 1, Neuron: 3, Scale: 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	if iv := res.Intervention; iv == nil || iv.BaselineString != e.Tok.Decode(iv.Baseline) || iv.ChangedString != e.Tok.Decode(iv.Changed) {
		t.Errorf("intervention texts: %+v", res.Intervention)
	}
}
