package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// genTextModel writes a small random GPT-2 with the real GPT-2 vocabulary
// size and tokenizer files (from the tokenizer package's test data).
func genTextModel(t *testing.T) string {
	t.Helper()
	cfg := gpt2.Config{NLayer: 1, NHead: 2, NEmbd: 16, NPositions: 24, VocabSize: 50257, LayerNormEps: 1e-5,
		Activation: "gelu_new", EOSTokenID: 50256, BOSTokenID: 50256}
	m, err := gpt2.Random(cfg, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir, "F16"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "tokenizer", "testdata", "gpt2", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func genRun(t *testing.T, f generateFlags, json bool, args ...string) (string, string, error) {
	t.Helper()
	old := outputFormat
	defer func() { outputFormat = old }()
	outputFormat = "text"
	if json {
		outputFormat = "json"
	}
	if f.maxNew == 0 {
		f.maxNew = 8
	}
	f.seedSet = true
	var out, errw bytes.Buffer
	err := runGenerate(context.Background(), &out, &errw, f, args)
	return out.String(), errw.String(), err
}

func TestGenerateJSON(t *testing.T) {
	out, _, err := genRun(t, generateFlags{model: "../../model/gpt2/testdata/tiny", promptIDs: "1, 2,3",
		samp: generate.Sampling{Greedy: true}, ignoreEOS: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"ids", "logprobs", "prompt_ids", "stats", "text"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var res struct {
		PromptIDs []int              `json:"prompt_ids"`
		IDs       []int              `json:"ids"`
		Logprobs  []float64          `json:"logprobs"`
		Stats     map[string]float64 `json:"stats"`
	}
	json.Unmarshal([]byte(out), &res)
	if !slices.Equal(res.PromptIDs, []int{1, 2, 3}) || len(res.IDs) != 8 || len(res.Logprobs) != 8 {
		t.Errorf("result %+v", res)
	}
	for _, k := range []string{"prefill_tokens", "prefill_seconds", "decode_tokens", "decode_seconds"} {
		if _, ok := res.Stats[k]; !ok {
			t.Errorf("stats lack %s: %v", k, res.Stats)
		}
	}
	if res.Stats["prefill_tokens"] != 3 || res.Stats["decode_tokens"] != 7 {
		t.Errorf("stats %v", res.Stats)
	}
}

func TestGenerateText(t *testing.T) {
	dir := genTextModel(t)
	f := generateFlags{model: dir, samp: generate.Sampling{Seed: 4, TopK: 50, Temperature: 1}, stats: true}
	out, errw, err := genRun(t, f, false, "Hello, world")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "Hello, world") || !strings.HasSuffix(out, "\n") || len(out) <= len("Hello, world\n") {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(errw, "prefill: 3 tokens") || !strings.Contains(errw, "decode:  7 tokens") {
		t.Errorf("stats %q", errw)
	}
	// The same seed gives the same text; JSON text is the streamed continuation.
	jout, _, err := genRun(t, f, true, "Hello, world")
	if err != nil {
		t.Fatal(err)
	}
	var res generate.Result
	if err := json.Unmarshal([]byte(jout), &res); err != nil {
		t.Fatal(err)
	}
	if out != "Hello, world"+res.Text+"\n" {
		t.Errorf("text mode %q, JSON text %q", out, res.Text)
	}
	// Stop before a piece of that text.
	if len(res.Text) > 4 {
		stop := res.Text[2:4]
		f.stop = []string{stop}
		sout, _, err := genRun(t, f, false, "Hello, world")
		if err != nil {
			t.Fatal(err)
		}
		if want := "Hello, world" + res.Text[:strings.Index(res.Text, stop)] + "\n"; sout != want {
			t.Errorf("--stop %q: %q, want %q", stop, sout, want)
		}
	}
	// Context: 24 positions, the prompt takes 3.
	f.stop = nil
	f.maxNew = 100
	_, errw, err = genRun(t, f, false, "Hello, world")
	if err != nil || !strings.Contains(errw, "context limit of 24 tokens (prompt 3 + 21 generated)") {
		t.Errorf("context limit: %v, %q", err, errw)
	}
}

// TestGenerateHubCache resolves a hub id from a fake Hugging Face cache,
// offline.
func TestGenerateHubCache(t *testing.T) {
	src := genTextModel(t)
	cache := t.TempDir()
	repo := filepath.Join(cache, "models--test-org--tiny-gpt2")
	commit := "0123456789abcdef0123456789abcdef01234567"
	snap := filepath.Join(repo, "snapshots", commit)
	for _, d := range []string{filepath.Join(repo, "blobs"), filepath.Join(repo, "refs"), snap} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	for i, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		blob := strings.Repeat(string(rune('a'+i)), 40)
		os.WriteFile(filepath.Join(repo, "blobs", blob), b, 0o644)
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(snap, f)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	out, _, err := genRun(t, generateFlags{model: "test-org/tiny-gpt2", samp: generate.Sampling{Greedy: true}}, false, "Hi")
	if err != nil || !strings.HasPrefix(out, "Hi") {
		t.Fatalf("hub id from the cache: %q, %v", out, err)
	}
	_, _, err = genRun(t, generateFlags{model: "test-org/absent", samp: generate.Sampling{Greedy: true}}, false, "Hi")
	if err == nil || !strings.Contains(err.Error(), "offline") {
		t.Errorf("absent model offline: %v", err)
	}
}

func TestGenerateErrors(t *testing.T) {
	dir := genTextModel(t)
	bert := t.TempDir()
	os.WriteFile(filepath.Join(bert, "config.json"), []byte(`{"model_type": "bert", "architectures": ["BertModel"]}`), 0o644)
	noWeights := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(noWeights, "config.json"), b, 0o644)
	long := strings.Repeat("hello ", 30)
	tiny := "../../model/gpt2/testdata/tiny"
	greedy := generate.Sampling{Greedy: true}
	for _, c := range []struct {
		name string
		f    generateFlags
		args []string
		want string
	}{
		{"no model", generateFlags{}, []string{"x"}, "--model is required"},
		{"not a dir", generateFlags{model: "./nowhere/at/all", samp: greedy}, []string{"x"}, "not a directory"},
		{"bert", generateFlags{model: bert, samp: greedy}, []string{"x"}, `config.json: model_type "bert" is not gpt2`},
		{"no weights", generateFlags{model: noWeights, samp: greedy}, []string{"x"}, "model.safetensors"},
		{"too long", generateFlags{model: dir, samp: greedy}, []string{long}, "more than the model's context of 24"},
		{"bad utf-8", generateFlags{model: dir, samp: greedy}, []string{"caf\xe9"}, "not valid UTF-8"},
		{"empty", generateFlags{model: dir, samp: greedy}, []string{""}, "empty prompt"},
		{"no prompt", generateFlags{model: dir, samp: greedy}, nil, "no prompt"},
		{"both prompts", generateFlags{model: dir, samp: greedy, promptIDs: "1"}, []string{"x"}, "not both"},
		{"bad ids", generateFlags{model: tiny, samp: greedy, promptIDs: "1,x"}, nil, `"x" is not a token id`},
		{"id range", generateFlags{model: tiny, samp: greedy, promptIDs: "100"}, nil, "out of range [0, 100)"},
		{"no tokenizer", generateFlags{model: tiny, samp: greedy}, []string{"x"}, "has no tokenizer"},
		{"temperature", generateFlags{model: dir, samp: generate.Sampling{Temperature: -1, TopK: 50}}, []string{"x"}, "temperature -1"},
		{"temperature 0", generateFlags{model: dir, samp: generate.Sampling{Temperature: 0}}, []string{"x"}, "use --greedy"},
		{"top-p", generateFlags{model: dir, samp: generate.Sampling{TopP: 2, Temperature: 1}}, []string{"x"}, "top-p 2"},
		{"max new", generateFlags{model: dir, samp: greedy, maxNew: -3}, []string{"x"}, "--max-new-tokens -3"},
	} {
		out, _, err := genRun(t, c.f, false, c.args...)
		if out != "" {
			t.Errorf("%s: printed %q before failing", c.name, out)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.name, err)
		}
	}
}
