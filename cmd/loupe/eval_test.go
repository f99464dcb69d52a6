package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/tokenizer"
)

// evalModel is a tiny GPT-2 with a byte-level BPE tokenizer (16 positions).
var evalModel = filepath.Join("..", "..", "explain", "testdata", "tiny")

func TestEvalPerplexityCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := "the hat and the cat sat on a mat.", "a hat is the hat of the cat, then the hat sat."
	fa, fb, fab := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt"), filepath.Join(dir, "ab.txt")
	for p, s := range map[string]string{fa: a, fb: b, fab: a + "\n\n" + b} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The library on the joined text, with the defaults the command uses.
	tok, err := tokenizer.Load(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gpt2.Load(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids, err := perplexity.Tokenize(tok, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want, err := perplexity.Evaluate(context.Background(), m, ids, perplexity.DefaultOptions(m.Config), nil)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		Perplexity  float64 `json:"perplexity"`
		NLL         float64 `json:"nll"`
		Tokens      int     `json:"tokens"`
		InputTokens int     `json:"input_tokens"`
		Windows     int     `json:"windows"`
		MaxLength   int     `json:"max_length"`
		Stride      int     `json:"stride"`
		Model       string  `json:"model"`
	}
	run := func(args ...string) result {
		t.Helper()
		out, err := runLoupe(t, append([]string{"eval", "perplexity", "--model", evalModel, "--format", "json"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(out), &raw); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("%v: --format json printed %q (%v), want one object", args, out, err)
		}
		for _, k := range []string{"perplexity", "tokens", "nll", "windows", "max_length", "stride", "model", "seconds", "input_tokens"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("JSON lacks %q: %s", k, out)
			}
		}
		var r result
		json.Unmarshal([]byte(out), &r)
		return r
	}
	got := run(fa, fb)
	if got.Tokens != want.Tokens || got.InputTokens != len(ids) || got.Windows != want.Windows || math.Abs(got.NLL-want.NLL) > 1e-12 ||
		got.MaxLength != 16 || got.Stride != 8 || got.Model != evalModel {
		t.Errorf("two files: %+v, want %+v", got, want)
	}
	if math.Abs(got.Perplexity-math.Exp(got.NLL)) > 1e-9*got.Perplexity || got.Tokens != len(ids)-1 {
		t.Errorf("perplexity %g, nll %g, tokens %d of %d", got.Perplexity, got.NLL, got.Tokens, len(ids))
	}
	// One file holding the joined text, and standard input, give the same.
	if one := run(fab); one.NLL != got.NLL || one.Tokens != got.Tokens {
		t.Errorf("joined file: %+v, want %+v", one, got)
	}
	rootCmd.SetIn(strings.NewReader(b))
	std := run(fa, "-")
	rootCmd.SetIn(nil)
	if std.NLL != got.NLL {
		t.Errorf("stdin: %+v, want %+v", std, got)
	}
	// --max-length alone halves it for the stride; --stride overrides.
	if r := run("--max-length", "10", fa); r.MaxLength != 10 || r.Stride != 5 {
		t.Errorf("--max-length 10: %+v", r)
	}
	if r := run("--max-length", "10", "--stride", "10", fa); r.Stride != 10 || r.Tokens >= len(ids) {
		t.Errorf("--stride 10: %+v", r)
	}

	out, err := runLoupe(t, "eval", "perplexity", "--model", evalModel, "--format", "text", fa, fb)
	if err != nil || !strings.HasPrefix(out, "perplexity ") || !strings.Contains(out, "tokens") || strings.Count(out, "\n") != 1 {
		t.Errorf("text output %q, %v", out, err)
	}

	empty, one := filepath.Join(dir, "empty.txt"), filepath.Join(dir, "one.txt")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(one, []byte("a"), 0o644) // one token
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"eval", "perplexity", "--model", "", fa}, "--model is required"},
		{[]string{"eval", "perplexity", "--model", evalModel}, "requires at least 1 arg"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--stride", "17", fa}, "--stride 17: want 1 to --max-length (16)"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--stride", "0", fa}, "--stride 0"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--max-length", "17", fa}, "--max-length 17: want 1 to 16"},
		{[]string{"eval", "perplexity", "--model", evalModel, filepath.Join(dir, "missing.txt")}, "missing.txt"},
		{[]string{"eval", "perplexity", "--model", evalModel, empty, empty}, "no text"},
		{[]string{"eval", "perplexity", "--model", evalModel, "-", "-"}, "standard input"},
		{[]string{"eval", "perplexity", "--model", filepath.Join("..", "..", "model", "gpt2", "testdata", "tiny"), fa}, "no tokenizer"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--format", "text", one}, "1 token(s): at least 2"},
	} {
		_, err := runLoupe(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "perplexity: perplexity") {
			t.Errorf("%v: %v, want an error saying %q", tc.args[2:], err, tc.msg)
		}
	}
}
