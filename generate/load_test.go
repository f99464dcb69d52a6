package generate

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolvePrecedence: the caller's settings win, then the file's, then
// the defaults; without a file loupe samples (the pipeline's default)
// unless beams are asked for.
func TestResolvePrecedence(t *testing.T) {
	seed := uint64(9)
	file, err := ParseGenerationConfig([]byte(`{"do_sample": true, "temperature": 0.5, "top_k": 7, "max_length": 30,
		"min_length": 12, "num_beams": 3, "eos_token_id": [4, 5]}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	opt, b, err := Resolve(file, Settings{Seed: &seed}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Greedy || opt.Temperature != 0.5 || opt.TopK != 7 || opt.TopP != 1 || opt.MaxNewTokens != 20 || opt.MinLength != 12 ||
		opt.Seed != 9 || b.NumBeams != 3 || !b.Sample || len(opt.EOSTokenIDs) != 2 {
		t.Errorf("file only: %+v %+v", opt, b)
	}
	over := Settings{GenerationConfig: GenerationConfig{DoSample: new(false), TopK: new(3), MaxNewTokens: new(4), MinNewTokens: new(0), NumBeams: new(1)}}
	opt, b, err = Resolve(file, over, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !opt.Greedy || opt.TopK != 3 || opt.Temperature != 0.5 || opt.MaxNewTokens != 4 || opt.MinLength != 0 || opt.MinNewTokens != 0 || b.NumBeams != 1 || b.Sample {
		t.Errorf("overrides: %+v %+v", opt, b)
	}
	// No file: sampling with transformers' defaults, DefaultMaxNewTokens;
	// greedy beams when beams are asked for.
	opt, b, err = Resolve(nil, Settings{}, 10)
	if err != nil || opt.Greedy || opt.TopK != DefaultTopK || opt.Temperature != 1 || opt.MaxNewTokens != DefaultMaxNewTokens || b.NumBeams != 1 {
		t.Errorf("no file: %+v %+v %v", opt, b, err)
	}
	opt, b, err = Resolve(nil, Settings{GenerationConfig: GenerationConfig{NumBeams: new(2)}}, 10)
	if err != nil || !opt.Greedy || b.Sample {
		t.Errorf("no file, beams: %+v %+v %v", opt, b, err)
	}
}

// TestResolveErrors: each refused setting is an *OptionError naming the
// generation_config.json field, with File set only for the file's values.
func TestResolveErrors(t *testing.T) {
	file, err := ParseGenerationConfig([]byte(`{"do_sample": true, "temperature": 0, "max_length": 5}`), 100)
	if err != nil {
		t.Fatal(err)
	}
	file.path = "gc.json"
	for _, c := range []struct {
		name   string
		file   *GenerationConfig
		s      Settings
		field  string
		value  string
		inFile bool
	}{
		{"top_p 0", nil, Settings{GenerationConfig: GenerationConfig{TopP: new(0.0)}}, "top_p", "0", false},
		{"top_p -0.5", nil, Settings{GenerationConfig: GenerationConfig{TopP: new(-0.5)}}, "top_p", "-0.5", false},
		{"top_p 1.5", nil, Settings{GenerationConfig: GenerationConfig{TopP: new(1.5)}}, "top_p", "1.5", false},
		{"temperature", nil, Settings{GenerationConfig: GenerationConfig{Temperature: new(-1.0)}}, "temperature", "-1", false},
		{"temperature 0 sampling", nil, Settings{GenerationConfig: GenerationConfig{Temperature: new(0.0)}}, "temperature", "0", false},
		{"file temperature 0", file, Settings{}, "temperature", "0", true},
		{"file max_length", file, Settings{GenerationConfig: GenerationConfig{Temperature: new(1.0)}}, "max_length", "5", true},
		{"top_k", nil, Settings{GenerationConfig: GenerationConfig{TopK: new(-1)}}, "top_k", "-1", false},
		{"repetition_penalty", nil, Settings{GenerationConfig: GenerationConfig{RepetitionPenalty: new(0.0)}}, "repetition_penalty", "0", false},
		{"max_new_tokens", nil, Settings{GenerationConfig: GenerationConfig{MaxNewTokens: new(0)}}, "max_new_tokens", "0", false},
		{"num_beams", nil, Settings{GenerationConfig: GenerationConfig{NumBeams: new(0)}}, "num_beams", "0", false},
		{"greedy n", nil, Settings{GenerationConfig: GenerationConfig{DoSample: new(false), NumReturnSequences: new(2)}}, "num_return_sequences", "2", false},
		{"beams n", nil, Settings{GenerationConfig: GenerationConfig{NumBeams: new(2), NumReturnSequences: new(3)}}, "num_return_sequences", "3", false},
		{"beams stop", nil, Settings{GenerationConfig: GenerationConfig{NumBeams: new(2)}, Stop: []string{"x"}}, "stop_strings", `"x"`, false},
		{"empty stop", nil, Settings{Stop: []string{""}}, "stop_strings", `""`, false},
	} {
		_, _, err := Resolve(c.file, c.s, 10)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != c.field || oe.Value != c.value || (oe.File != "") != c.inFile {
			t.Errorf("%s: %#v, want an OptionError for %s %s (in the file: %v)", c.name, err, c.field, c.value, c.inFile)
		}
	}
}

// TestLoad: a directory with a tokenizer and a generation_config.json
// without do_sample takes do_sample from config.json's
// task_specific_params, as transformers' text-generation pipeline; a bad
// file fails the load, naming it.
func TestLoad(t *testing.T) {
	src := filepath.Join("..", "explain", "testdata", "tiny")
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" {
			b = []byte(strings.Replace(string(b), "{", `{"task_specific_params": {"text-generation": {"do_sample": true}},`, 1))
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, GenerationConfigFile), []byte(`{"top_k": 3}`), 0o644)
	p, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Tokenizer == nil || p.Config == nil || p.Config.DoSample == nil || !*p.Config.DoSample || *p.Config.TopK != 3 {
		t.Fatalf("pipeline: %+v", p)
	}
	if _, err := p.Encode("caf\xe9"); !errors.Is(err, ErrNotUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := p.Encode(""); !errors.Is(err, ErrEmptyPrompt) {
		t.Errorf("empty: %v", err)
	}
	os.WriteFile(filepath.Join(dir, GenerationConfigFile), []byte(`{"top_p": 0}`), 0o644)
	if _, err := Load(context.Background(), dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), GenerationConfigFile) {
		t.Errorf("bad generation_config.json: %v", err)
	}
	if _, err := Load(context.Background(), "", LoadOptions{}); err == nil {
		t.Error("no model: no error")
	}
}

// TestOutputJSON: Output's JSON is loupe generate --format json's, text
// not HTML-escaped by an Encoder that does not ask for it.
func TestOutputJSON(t *testing.T) {
	o := &Output{PromptIDs: []int{1}, Sequences: []Sequence{{IDs: []int{2}, Text: "<|x|>", Logprobs: []float32{-1}}}}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		t.Fatal(err)
	}
	want := `{"prompt_ids":[1],"ids":[2],"text":"<|x|>","logprobs":[-1],"stats":`
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("%s, want %s...", b.String(), want)
	}
	o.Beams = true
	o.Sequences = append(o.Sequences, Sequence{IDs: []int{3}, Score: -0.5})
	o.Sequences[0].Score = -0.25
	j, err := json.Marshal(o)
	if err != nil || !strings.Contains(string(j), `"sequences":[{"ids":[2]`) || !strings.Contains(string(j), `"sequences_scores":[-0.25,-0.5]`) {
		t.Errorf("%s %v", j, err)
	}
}
