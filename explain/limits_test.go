package explain

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// TestInterventionPositions: positions the regeneration never reaches are
// an error, not a silent no-op.
func TestInterventionPositions(t *testing.T) {
	e := LoadTestExplainer(t)
	greedy := generate.Sampling{Greedy: true}
	prompt := "the hat"
	np := len(e.Tok.Encode(prompt))
	for _, c := range []struct {
		pos  int
		want string
	}{
		{99, "position 99"},
		{np + 1, "position"}, // 2 regenerated tokens: positions 0..np
		{-1, "negative"},
		{np, ""},
		{0, ""},
	} {
		req := Request{Prompt: prompt, Generate: generate.Options{MaxNewTokens: 2, Sampling: greedy},
			Options: Options{NoAttention: true, Interventions: []Intervention{{Layer: 0, Neuron: 1, Positions: []int{c.pos}, Scale: 0}}}}
		_, err := e.Explain(context.Background(), req)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("position %d: %v", c.pos, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("position %d: error %v, want one containing %q", c.pos, err, c.want)
		}
	}
}

// TestContextLimit: generation cut by the context is reported in Stopped;
// a prompt that fills the context is an error.
func TestContextLimit(t *testing.T) {
	e := LoadTestExplainer(t)
	P := e.Model.Config.NPositions
	// Find a prompt of P-1 tokens (single letters are single tokens here).
	var b strings.Builder
	for len(e.Tok.Encode(b.String())) < P-1 {
		b.WriteString("a")
	}
	prompt := b.String()
	if n := len(e.Tok.Encode(prompt)); n != P-1 {
		t.Fatalf("test prompt has %d tokens, want %d", n, P-1)
	}
	res, err := e.Explain(context.Background(), Request{Prompt: prompt, Generate: generate.Options{MaxNewTokens: 5, Sampling: generate.Sampling{Greedy: true}}, Options: Options{NoAttention: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ids %d stopped %q", len(res.IDs), res.Stopped)
	if len(res.IDs) == P && res.IDs[P-1] != e.Tok.EOS() && res.Stopped != "context_limit" {
		t.Errorf("stopped %q, want context_limit (ids %v)", res.Stopped, res.IDs)
	}
	b2, _ := json.Marshal(res)
	if res.Stopped != "" && !strings.Contains(string(b2), `"stopped":"context_limit"`) {
		t.Errorf("JSON lacks stopped: %s", b2[:200])
	}
	short, err := e.Explain(context.Background(), Request{Prompt: "the", Generate: generate.Options{MaxNewTokens: 2, Sampling: generate.Sampling{Greedy: true}}, Options: Options{NoAttention: true}})
	if err != nil || short.Stopped != "" {
		t.Errorf("short prompt: stopped %q err %v", short.Stopped, err)
	}
	_, err = e.Explain(context.Background(), Request{Prompt: prompt + "a", Generate: generate.Options{MaxNewTokens: 2, Sampling: generate.Sampling{Greedy: true}}})
	if err == nil || !strings.Contains(err.Error(), "fills the model's context") {
		t.Errorf("full prompt: %v", err)
	}
}

// TestNonFinite: a model with NaN weights gives an error naming the problem,
// not a JSON encoding failure later.
func TestNonFinite(t *testing.T) {
	src := filepath.Join("testdata", "tiny")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	b, err := os.ReadFile(filepath.Join(src, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var ln struct {
		Offsets [2]uint64 `json:"data_offsets"`
	}
	json.Unmarshal(hdr["transformer.ln_f.weight"], &ln)
	binary.LittleEndian.PutUint32(b[8+n+ln.Offsets[0]:], math.Float32bits(float32(math.NaN())))
	os.WriteFile(filepath.Join(dir, "model.safetensors"), b, 0o644)
	m, err := gpt2.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.LoadBPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExplainer("nan", m, tok)
	if err != nil {
		t.Fatal(err)
	}
	cont := " the"
	_, err = e.Explain(context.Background(), Request{Prompt: "a hat", Continuation: &cont})
	if err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("NaN weights: %v, want an error saying the values are not finite", err)
	}
	t.Log(err)
}
