package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// genOpts are loupe generate's options as values: a zero sampling field
// counts as not given, the seed and the length and beam flags as given
// (changed, when set, says which are given instead).
type genOpts struct {
	model     string
	samp      generate.Sampling
	maxNew    int
	minNew    int
	stop      []string
	stats     bool
	promptIDs string
	ignoreEOS bool
	doSample  bool
	numBeams  int
	lengthPen float64
	earlyStop string
	numReturn int
	input     string
	batchSize int
	changed   map[string]bool
}

func genRun(t *testing.T, f genOpts, json bool, args ...string) (string, string, error) {
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
	if f.numBeams == 0 {
		f.numBeams = 1
	}
	if f.numReturn == 0 {
		f.numReturn = 1
	}
	if f.earlyStop == "" {
		f.earlyStop = "false"
	}
	if f.batchSize == 0 {
		f.batchSize = generate.DefaultBatchSize
	}
	if f.changed == nil {
		f.changed = givenFlags(f)
	}
	c := f.changed
	g := generate.GenerationConfig{
		Temperature: given(c, "temperature", f.samp.Temperature), TopK: given(c, "top-k", f.samp.TopK),
		TopP: given(c, "top-p", f.samp.TopP), MinP: given(c, "min-p", f.samp.MinP),
		TypicalP: given(c, "typical-p", f.samp.Typical), RepetitionPenalty: given(c, "repetition-penalty", f.samp.RepetitionPenalty),
		NoRepeatNGramSize: given(c, "no-repeat-ngram-size", f.samp.NoRepeatNGramSize),
		MaxNewTokens:      given(c, "max-new-tokens", f.maxNew), MinNewTokens: given(c, "min-new-tokens", f.minNew),
		NumBeams: given(c, "num-beams", f.numBeams), LengthPenalty: given(c, "length-penalty", f.lengthPen),
		NumReturnSequences: given(c, "num-return-sequences", f.numReturn),
	}
	gf := generateFlags{model: f.model, greedy: f.samp.Greedy, doSample: f.doSample, earlyStop: given(c, "early-stopping", f.earlyStop),
		stop: f.stop, stats: f.stats, promptIDs: f.promptIDs, input: f.input, batchSize: f.batchSize,
		set: generate.Settings{GenerationConfig: g, Seed: &f.samp.Seed, IgnoreEOS: f.ignoreEOS}}
	var out, errw bytes.Buffer
	err := runGenerate(context.Background(), &out, &errw, gf, args)
	return out.String(), errw.String(), err
}

// given returns &v when changed names flag, else nil.
func given[T any](changed map[string]bool, flag string, v T) *T {
	if changed[flag] {
		return &v
	}
	return nil
}

// givenFlags counts as given on the command line the flags whose field
// in f is set (not zero), and the length flags.
func givenFlags(f genOpts) map[string]bool {
	return map[string]bool{
		"temperature": f.samp.Temperature != 0, "top-k": f.samp.TopK != 0, "top-p": f.samp.TopP != 0,
		"min-p": f.samp.MinP != 0, "typical-p": f.samp.Typical != 0, "repetition-penalty": f.samp.RepetitionPenalty != 0,
		"no-repeat-ngram-size": f.samp.NoRepeatNGramSize != 0, "max-new-tokens": true, "min-new-tokens": true,
		"num-beams": true, "length-penalty": f.lengthPen != 0, "early-stopping": true, "num-return-sequences": true,
	}
}

func TestGenerateJSON(t *testing.T) {
	out, _, err := genRun(t, genOpts{model: "../../model/gpt2/testdata/tiny", promptIDs: "1, 2,3",
		samp: generate.Sampling{Greedy: true}, ignoreEOS: true}, true)
	if err != nil {
		t.Fatal(err)
	}
	if keys, want := jsonKeys(t, out), []string{"ids", "logprobs", "prompt_ids", "stats", "text"}; !slices.Equal(keys, want) {
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
	f := genOpts{model: dir, samp: generate.Sampling{Seed: 4, TopK: 50, Temperature: 1}, stats: true}
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
	out, _, err := genRun(t, genOpts{model: "test-org/tiny-gpt2", samp: generate.Sampling{Greedy: true}}, false, "Hi")
	if err != nil || !strings.HasPrefix(out, "Hi") {
		t.Fatalf("hub id from the cache: %q, %v", out, err)
	}
	_, _, err = genRun(t, genOpts{model: "test-org/absent", samp: generate.Sampling{Greedy: true}}, false, "Hi")
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
		f    genOpts
		args []string
		want string
	}{
		{"no model", genOpts{}, []string{"x"}, "--model is required"},
		{"not a dir", genOpts{model: "./nowhere/at/all", samp: greedy}, []string{"x"}, "not a directory"},
		{"bert", genOpts{model: bert, samp: greedy}, []string{"x"}, `config.json: model_type "bert" is not gpt2`},
		{"no weights", genOpts{model: noWeights, samp: greedy}, []string{"x"}, "model.safetensors"},
		{"too long", genOpts{model: dir, samp: greedy}, []string{long}, "more than the model's context of 24"},
		{"bad utf-8", genOpts{model: dir, samp: greedy}, []string{"caf\xe9"}, "not valid UTF-8"},
		{"empty", genOpts{model: dir, samp: greedy}, []string{""}, "empty prompt"},
		{"no prompt", genOpts{model: dir, samp: greedy}, nil, "no prompt"},
		{"both prompts", genOpts{model: dir, samp: greedy, promptIDs: "1"}, []string{"x"}, "not both"},
		{"bad ids", genOpts{model: tiny, samp: greedy, promptIDs: "1,x"}, nil, `"x" is not a token id`},
		{"id range", genOpts{model: tiny, samp: greedy, promptIDs: "100"}, nil, "out of range [0, 100)"},
		{"no tokenizer", genOpts{model: tiny, samp: greedy}, []string{"x"}, "has no tokenizer"},
		{"temperature", genOpts{model: dir, samp: generate.Sampling{Temperature: -1, TopK: 50}}, []string{"x"}, "temperature -1"},
		{"temperature 0", genOpts{model: dir, samp: generate.Sampling{Temperature: 0}, changed: map[string]bool{"temperature": true}}, []string{"x"}, "--temperature 0: want a positive number while sampling (do_sample) (for greedy decoding use --greedy)"},
		{"top-p 0", genOpts{model: dir, changed: map[string]bool{"top-p": true}}, []string{"x"}, "--top-p 0: want a number in (0, 1]"},
		{"top-p -0.5", genOpts{model: dir, samp: generate.Sampling{TopP: -0.5}}, []string{"x"}, "--top-p -0.5: want a number in (0, 1]"},
		{"top-p", genOpts{model: dir, samp: generate.Sampling{TopP: 2, Temperature: 1}}, []string{"x"}, "top-p 2"},
		{"max new", genOpts{model: dir, samp: greedy, maxNew: -3}, []string{"x"}, "--max-new-tokens -3"},
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

// beamGolden returns the named case of generate/testdata/beam_golden.json
// (transformers' beam search in PyTorch on the tiny checkpoint).
func beamGolden(t *testing.T, name string) (ids [][]int, scores []float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "generate", "testdata", "beam_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name      string    `json:"name"`
		Sequences [][]int   `json:"sequences"`
		Scores    []float64 `json:"sequences_scores"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name == name {
			return c.Sequences, c.Scores
		}
	}
	t.Fatalf("no golden case %s", name)
	return nil, nil
}

func jsonKeys(t *testing.T, out string) []string {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func closeScores(got []float32, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if d := float64(got[i]) - want[i]; d > 1e-4 || d < -1e-4 {
			return false
		}
	}
	return true
}

func TestGenerateBeamsJSON(t *testing.T) {
	tiny := "../../model/gpt2/testdata/tiny"
	// One sequence: the greedy shape plus sequences_scores.
	out, _, err := runCmd(t, "generate", "--model", tiny, "--prompt-ids", "3,17,42", "--num-beams", "3",
		"--max-new-tokens", "8", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if keys, want := jsonKeys(t, out), []string{"ids", "logprobs", "prompt_ids", "sequences_scores", "stats", "text"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var one struct {
		IDs             []int     `json:"ids"`
		Logprobs        []float32 `json:"logprobs"`
		SequencesScores []float32 `json:"sequences_scores"`
	}
	json.Unmarshal([]byte(out), &one)
	ids, scores := beamGolden(t, "n3/eos99")
	if !slices.Equal(one.IDs, ids[0]) || !closeScores(one.SequencesScores, scores) || len(one.Logprobs) != len(one.IDs) {
		t.Errorf("got %v %v, want %v %v", one.IDs, one.SequencesScores, ids[0], scores)
	}
	// Several: per-sequence results.
	out, _, err = runCmd(t, "generate", "--model", tiny, "--prompt-ids", "50,1,2,98", "--num-beams", "4",
		"--num-return-sequences", "3", "--max-new-tokens", "10", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if keys, want := jsonKeys(t, out), []string{"prompt_ids", "sequences", "sequences_scores", "stats"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	var many struct {
		Sequences []struct {
			IDs      []int     `json:"ids"`
			Text     *string   `json:"text"`
			Logprobs []float32 `json:"logprobs"`
		} `json:"sequences"`
		SequencesScores []float32 `json:"sequences_scores"`
	}
	json.Unmarshal([]byte(out), &many)
	ids, scores = beamGolden(t, "n4_return3/eos99")
	if len(many.Sequences) != 3 || !closeScores(many.SequencesScores, scores) {
		t.Fatalf("got %s", out)
	}
	for i, sq := range many.Sequences {
		if !slices.Equal(sq.IDs, ids[i]) || sq.Text == nil || len(sq.Logprobs) != len(sq.IDs) {
			t.Errorf("sequence %d: %+v, want ids %v", i, sq, ids[i])
		}
	}
}

func TestGenerateBeamsText(t *testing.T) {
	dir := genTextModel(t)
	out, errw, err := runCmd(t, "generate", "--model", dir, "--num-beams", "3", "--num-return-sequences", "2",
		"--max-new-tokens", "5", "--stats", "Hello, world")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "--- sequence ") != 2 || strings.Count(out, "Hello, world") != 2 || !strings.HasPrefix(out, "--- sequence 1 of 2, score ") {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(errw, "decode:  12 tokens") { // 4 steps after the prefill, 3 beams each
		t.Errorf("stats %q", errw)
	}
	// One sequence: just the text, as without beams.
	out, _, err = runCmd(t, "generate", "--model", dir, "--num-beams", "3", "--max-new-tokens", "5", "Hello, world")
	if err != nil || !strings.HasPrefix(out, "Hello, world") || strings.Contains(out, "---") || strings.Count(out, "\n") != 1 {
		t.Errorf("output %q, %v", out, err)
	}
}

// copyTiny copies the tiny checkpoint into a new directory with the given
// generation_config.json ("" for none).
func copyTiny(t *testing.T, genConfig string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "model", "gpt2", "testdata", "tiny", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	if genConfig != "" {
		os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(genConfig), 0o644)
	}
	return dir
}

func TestGenerateConfigFile(t *testing.T) {
	ids := func(args ...string) []int {
		t.Helper()
		out, _, err := runCmd(t, append([]string{"generate", "--prompt-ids", "3,17,42", "--format", "json"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var res struct {
			IDs []int `json:"ids"`
		}
		json.Unmarshal([]byte(out), &res)
		return res.IDs
	}
	plain := copyTiny(t, "")
	greedy := ids("--model", plain, "--greedy", "--ignore-eos", "--max-new-tokens", "6")

	// num_beams and max_new_tokens from the file; do_sample absent means
	// greedy (transformers' default), so this is beam search.
	beams := copyTiny(t, `{"num_beams": 3, "max_new_tokens": 8, "bos_token_id": 99, "eos_token_id": 99}`)
	want, _ := beamGolden(t, "n3/eos99")
	if got := ids("--model", beams); !slices.Equal(got, want[0]) {
		t.Errorf("num_beams from the file: %v, want %v", got, want[0])
	}
	// A flag overrides the file: one beam is greedy decoding.
	if got := ids("--model", beams, "--num-beams", "1", "--max-new-tokens", "6", "--ignore-eos"); !slices.Equal(got, greedy) {
		t.Errorf("--num-beams 1 over the file: %v, want %v", got, greedy)
	}
	// A file without do_sample decodes greedily; max_length counts the prompt.
	empty := copyTiny(t, `{"max_length": 9}`)
	if got := ids("--model", empty, "--ignore-eos"); !slices.Equal(got, greedy) {
		t.Errorf("file without do_sample: %v, want greedy %v", got, greedy)
	}
	// Without do_sample in the file, config.json's
	// task_specific_params["text-generation"] decides, as transformers'
	// text-generation pipeline does (the hub's gpt2 samples this way).
	pipe := copyTiny(t, `{"bos_token_id": 99, "eos_token_id": 99}`)
	cfg, err := os.ReadFile(filepath.Join(pipe, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(cfg, &c); err != nil {
		t.Fatal(err)
	}
	c["task_specific_params"] = map[string]any{"text-generation": map[string]any{"do_sample": true, "max_length": 50}}
	cfg, _ = json.Marshal(c)
	os.WriteFile(filepath.Join(pipe, "config.json"), cfg, 0o644)
	sampled := ids("--model", pipe, "--seed", "7", "--ignore-eos", "--max-new-tokens", "6")
	if want := ids("--model", plain, "--seed", "7", "--ignore-eos", "--max-new-tokens", "6"); !slices.Equal(sampled, want) || slices.Equal(sampled, greedy) {
		t.Errorf("task_specific_params do_sample true: %v, want sampled %v (greedy is %v)", sampled, want, greedy)
	}
	// Sampling parameters from the file match the same flags.
	samp := copyTiny(t, `{"do_sample": true, "top_k": 5, "temperature": 0.5, "repetition_penalty": 1.3}`)
	a := ids("--model", samp, "--seed", "7", "--ignore-eos")
	b := ids("--model", plain, "--seed", "7", "--ignore-eos", "--top-k", "5", "--temperature", "0.5", "--repetition-penalty", "1.3")
	if !slices.Equal(a, b) || len(a) < 8 {
		t.Errorf("sampling from the file %v, from flags %v", a, b)
	}
	// --greedy overrides do_sample; the file's repetition penalty stays.
	penalised := ids("--model", plain, "--greedy", "--ignore-eos", "--max-new-tokens", "6", "--repetition-penalty", "1.3")
	if c := ids("--model", samp, "--seed", "7", "--ignore-eos", "--greedy", "--max-new-tokens", "6"); !slices.Equal(c, penalised) || slices.Equal(c, greedy) {
		t.Errorf("--greedy over do_sample true: %v, want %v (and not %v)", c, penalised, greedy)
	}
	// eos_token_id lists replace the model's EOS.
	eos := copyTiny(t, fmt.Sprintf(`{"eos_token_id": [98, %d]}`, greedy[3]))
	stop := slices.Index(greedy, greedy[3]) + 1
	if got := ids("--model", eos, "--max-new-tokens", "6"); !slices.Equal(got, greedy[:stop]) {
		t.Errorf("eos_token_id list: %v, want %v", got, greedy[:stop])
	}
	if got := ids("--model", eos, "--max-new-tokens", "6", "--ignore-eos"); !slices.Equal(got, greedy) {
		t.Errorf("--ignore-eos over the list: %v, want %v", got, greedy)
	}

	for _, c := range []struct{ file, args, want string }{
		{`{"top_k": -2}`, "", `generation_config.json: "top_k": want 0 (off) or a positive integer, got -2`},
		{`{"eos_token_id": 100}`, "", `"eos_token_id": want a token id in [0, 100)`},
		{`{"early_stopping": "soon"}`, "", `"early_stopping"`},
		{`{"max_length": 3}`, "", `"max_length": want more than the prompt's 3 tokens (or set max_new_tokens), got 3`},
		{`{"do_sample": true, "temperature": 0}`, "", `generation_config.json: "temperature": want a positive number while sampling (do_sample), got 0`},
		{`{"do_sample": true, "num_beams": 2, "temperature": 0}`, "", `"temperature": want a positive number while sampling`},
		{`{"num_beams": 2}`, "--num-return-sequences 3", "--num-return-sequences 3: want at most num_beams (2)"},
		{`not json`, "", "generation_config.json: not a JSON object"},
	} {
		dir := copyTiny(t, c.file)
		args := []string{"generate", "--model", dir, "--prompt-ids", "3,17,42"}
		if c.args != "" {
			args = append(args, strings.Fields(c.args)...)
		}
		out, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || out != "" {
			t.Errorf("%s %s: %v (printed %q), want %q", c.file, c.args, err, out, c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "not a JSON") &&
			!strings.Contains(err.Error(), "--num-return") && !strings.Contains(err.Error(), filepath.Join(dir, "generation_config.json")) {
			t.Errorf("%s: error does not name the file: %v", c.file, err)
		}
	}
}

func TestGenerateBeamErrors(t *testing.T) {
	tiny := "../../model/gpt2/testdata/tiny"
	dir := genTextModel(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "0"}, "--num-beams 0: want a positive integer"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--num-return-sequences", "3"}, "want at most num_beams (2)"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-return-sequences", "2", "--greedy"}, "--num-return-sequences 2: want 1 with greedy decoding"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-return-sequences", "0"}, "--num-return-sequences 0"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-return-sequences", "-3", "--do-sample"}, "--num-return-sequences -3: want a positive integer"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--min-new-tokens", "-1"}, "--min-new-tokens -1: want 0 (off) or a positive integer"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--min-new-tokens", "-2", "--num-beams", "2"}, "--min-new-tokens -2"},
		{[]string{"--model", dir, "--num-return-sequences", "2", "--do-sample", "--stop", "", "hi"}, `--stop "": want non-empty strings`},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--do-sample", "--temperature", "0"}, "--temperature 0: want a positive number"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--do-sample", "--top-p", "2"}, "top-p 2"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--do-sample", "--top-k", "-1"}, "top-k -1"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--greedy", "--do-sample"}, "contradict"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--early-stopping", "soon"}, `--early-stopping "soon"`},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--num-beams", "2", "--length-penalty", "NaN"}, "--length-penalty NaN"},
		{[]string{"--model", tiny, "--prompt-ids", "1", "--no-repeat-ngram-size", "-1"}, "--no-repeat-ngram-size -1"},
		{[]string{"--model", dir, "--num-beams", "2", "--stop", "x", "hi"}, `--stop "x": want none with beam search`},
	} {
		out, _, err := runCmd(t, append([]string{"generate"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || out != "" {
			t.Errorf("%v: %v (printed %q), want %q", c.args, err, out, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error is not one line: %q", c.args, err)
		}
	}
}

// genIDs runs loupe generate with --format json and returns the ids.
func genIDs(t *testing.T, args ...string) []int {
	t.Helper()
	out, _, err := runCmd(t, append([]string{"generate", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	var res struct {
		IDs []int `json:"ids"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return res.IDs
}

// TestGenerateMinNewTokens: on the tiny model with an EOS id that greedy
// decoding picks second (generate/testdata's greedy_min_new* cases:
// transformers' semantics), --min-new-tokens keeps it out of the first N
// tokens, as min_new_tokens and min_length in generation_config.json do,
// whether the EOS id comes from generation_config.json or config.json.
func TestGenerateMinNewTokens(t *testing.T) {
	free, _ := beamGolden(t, "greedy_min_new0") // [96 62]: EOS 62 at once
	min2, _ := beamGolden(t, "greedy_min_new2") // EOS kept out of 2 tokens
	min6, _ := beamGolden(t, "greedy_min_new6") // ... out of 6: no EOS in 10
	if len(free[0]) != 2 || len(min2[0]) <= 2 || len(min6[0]) != 10 {
		t.Fatalf("golden cases changed: %v %v %v", free, min2, min6)
	}
	prompt := []string{"--prompt-ids", "11,48,85", "--max-new-tokens", "10"}
	eos := copyTiny(t, `{"eos_token_id": 62}`)
	for _, c := range []struct {
		name string
		dir  string
		args []string
		want []int
	}{
		{"no minimum", eos, nil, free[0]},
		{"--min-new-tokens 2", eos, []string{"--min-new-tokens", "2"}, min2[0]},
		{"--min-new-tokens 6", eos, []string{"--min-new-tokens", "6"}, min6[0]},
		{"file min_new_tokens", copyTiny(t, `{"eos_token_id": 62, "min_new_tokens": 2}`), nil, min2[0]},
		{"flag over file", copyTiny(t, `{"eos_token_id": 62, "min_new_tokens": 2}`), []string{"--min-new-tokens", "6"}, min6[0]},
		{"file min_length (prompt 3 + 2)", copyTiny(t, `{"eos_token_id": 62, "min_length": 5}`), nil, min2[0]},
		{"--min-new-tokens 0 replaces min_length", copyTiny(t, `{"eos_token_id": 62, "min_length": 5}`), []string{"--min-new-tokens", "0"}, free[0]},
		{"config.json's eos_token_id", tinyWithEOS(t, 62), []string{"--min-new-tokens", "2"}, min2[0]},
	} {
		args := append(append([]string{"--model", c.dir, "--greedy"}, prompt...), c.args...)
		if got := genIDs(t, args...); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// --ignore-eos leaves no EOS to keep out: the free run to the end.
	all := genIDs(t, "--model", eos, "--greedy", "--prompt-ids", "11,48,85", "--max-new-tokens", "10", "--ignore-eos")
	if got := genIDs(t, "--model", eos, "--greedy", "--prompt-ids", "11,48,85", "--max-new-tokens", "10", "--ignore-eos", "--min-new-tokens", "6"); !slices.Equal(got, all) || len(all) != 10 {
		t.Errorf("--ignore-eos --min-new-tokens 6: %v, want %v", got, all)
	}
	// Beam search (golden beam_min_new3_boundary): the finished sequences
	// end with EOS 83 no earlier than the fourth token.
	want, scores := beamGolden(t, "beam_min_new3_boundary")
	out, _, err := runCmd(t, "generate", "--model", copyTiny(t, `{"eos_token_id": 83}`), "--prompt-ids", "72,97", "--num-beams", "2",
		"--length-penalty", "0", "--num-return-sequences", "2", "--max-new-tokens", "10", "--min-new-tokens", "3", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var beams struct {
		Sequences []struct {
			IDs []int `json:"ids"`
		} `json:"sequences"`
		SequencesScores []float32 `json:"sequences_scores"`
	}
	json.Unmarshal([]byte(out), &beams)
	if len(beams.Sequences) != 2 || !slices.Equal(beams.Sequences[0].IDs, want[0]) || !slices.Equal(beams.Sequences[1].IDs, want[1]) ||
		!closeScores(beams.SequencesScores, scores) {
		t.Errorf("beam search: %s, want %v %v", out, want, scores)
	}
}

// tinyWithEOS copies the tiny checkpoint with config.json's eos_token_id
// set to id (and no generation_config.json).
func tinyWithEOS(t *testing.T, id int) string {
	t.Helper()
	dir := copyTiny(t, "")
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	c["eos_token_id"] = id
	b, _ = json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestGenerateSamples: --num-return-sequences with sampling draws that many
// sequences, reproducibly with --seed, the first being the single sample
// of that seed; the text output has a header per sequence.
func TestGenerateSamples(t *testing.T) {
	tiny := "../../model/gpt2/testdata/tiny"
	args := []string{"generate", "--model", tiny, "--prompt-ids", "3,17,42", "--num-return-sequences", "3", "--do-sample",
		"--seed", "1", "--max-new-tokens", "10", "--format", "json"}
	type seqs struct {
		Sequences []struct {
			IDs      []int     `json:"ids"`
			Text     *string   `json:"text"`
			Logprobs []float32 `json:"logprobs"`
		} `json:"sequences"`
		Stats map[string]float64 `json:"stats"`
	}
	run := func(args ...string) (seqs, string) {
		t.Helper()
		out, _, err := runCmd(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var r seqs
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r, out
	}
	a, out := run(args...)
	if keys, want := jsonKeys(t, out), []string{"prompt_ids", "sequences", "stats"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if len(a.Sequences) != 3 {
		t.Fatalf("%d sequences: %s", len(a.Sequences), out)
	}
	fed := 0
	for i, sq := range a.Sequences {
		if len(sq.IDs) == 0 || sq.Text == nil || len(sq.Logprobs) != len(sq.IDs) {
			t.Errorf("sequence %d: %+v", i, sq)
		}
		fed += len(sq.IDs) - 1
	}
	if slices.Equal(a.Sequences[0].IDs, a.Sequences[1].IDs) && slices.Equal(a.Sequences[1].IDs, a.Sequences[2].IDs) {
		t.Errorf("three identical samples: %v", a.Sequences[0].IDs)
	}
	if a.Stats["prefill_tokens"] != 3 || int(a.Stats["decode_tokens"]) != fed {
		t.Errorf("stats %v, want 3 prefill tokens and %d decoded", a.Stats, fed)
	}
	b, _ := run(args...)
	for i := range a.Sequences {
		if !slices.Equal(a.Sequences[i].IDs, b.Sequences[i].IDs) || !slices.Equal(a.Sequences[i].Logprobs, b.Sequences[i].Logprobs) {
			t.Errorf("sequence %d: %v, then %v with the same seed", i, a.Sequences[i].IDs, b.Sequences[i].IDs)
		}
	}
	one := genIDs(t, "--model", tiny, "--prompt-ids", "3,17,42", "--do-sample", "--seed", "1", "--max-new-tokens", "10")
	if !slices.Equal(one, a.Sequences[0].IDs) {
		t.Errorf("single sample %v, first of three %v", one, a.Sequences[0].IDs)
	}
	// generation_config.json's num_return_sequences applies to sampling.
	file, _ := run("generate", "--model", copyTiny(t, `{"do_sample": true, "num_return_sequences": 3, "max_new_tokens": 10}`),
		"--prompt-ids", "3,17,42", "--seed", "1", "--format", "json")
	if len(file.Sequences) != 3 || !slices.Equal(file.Sequences[2].IDs, a.Sequences[2].IDs) {
		t.Errorf("num_return_sequences from the file: %+v", file.Sequences)
	}
	out, _, err := runCmd(t, "generate", "--model", copyTiny(t, `{"num_return_sequences": 2}`), "--prompt-ids", "3,17,42")
	if err == nil || !strings.Contains(err.Error(), "with greedy decoding") || out != "" {
		t.Errorf("num_return_sequences without do_sample: %v (printed %q)", err, out)
	}

	// Text: each sequence under a header line, prompt included.
	dir := genTextModel(t)
	out, errw, err := runCmd(t, "generate", "--model", dir, "--num-return-sequences", "3", "--seed", "2",
		"--max-new-tokens", "5", "--stats", "Hello, world")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "--- sequence ") != 3 || strings.Count(out, "Hello, world") != 3 || !strings.HasPrefix(out, "--- sequence 1 of 3 ---\nHello, world") {
		t.Errorf("output %q", out)
	}
	if !strings.Contains(errw, "decode:  12 tokens") || !strings.Contains(errw, "finish:  length length length") {
		t.Errorf("stats %q", errw)
	}
	jout, _, err := runCmd(t, "generate", "--model", dir, "--num-return-sequences", "3", "--seed", "2",
		"--max-new-tokens", "5", "--format", "json", "Hello, world")
	if err != nil {
		t.Fatal(err)
	}
	var texts struct {
		Sequences []generate.Sequence `json:"sequences"`
	}
	json.Unmarshal([]byte(jout), &texts)
	for i, sq := range texts.Sequences {
		if !strings.Contains(out, fmt.Sprintf("--- sequence %d of 3 ---\nHello, world%s\n", i+1, sq.Text)) {
			t.Errorf("sequence %d: text %q not in %q", i, sq.Text, out)
		}
	}
}

// TestGenerateBeamSample: --num-beams with --do-sample (or the file's
// do_sample true) is beam sampling: reproducible with --seed, different
// from beam search and from other seeds on the tiny model, in beam
// search's output shapes.
func TestGenerateBeamSample(t *testing.T) {
	tiny := "../../model/gpt2/testdata/tiny"
	run := func(args ...string) (ids [][]int, scores []float32) {
		t.Helper()
		out, _, err := runCmd(t, append([]string{"generate", "--model", tiny, "--prompt-ids", "3,17,42", "--num-beams", "3",
			"--num-return-sequences", "2", "--max-new-tokens", "8", "--format", "json"}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if keys, want := jsonKeys(t, out), []string{"prompt_ids", "sequences", "sequences_scores", "stats"}; !slices.Equal(keys, want) {
			t.Errorf("%v: keys %v, want %v", args, keys, want)
		}
		var res struct {
			Sequences []struct {
				IDs []int `json:"ids"`
			} `json:"sequences"`
			SequencesScores []float32 `json:"sequences_scores"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		for _, sq := range res.Sequences {
			ids = append(ids, sq.IDs)
		}
		return ids, res.SequencesScores
	}
	same := func(a, b [][]int) bool { return slices.EqualFunc(a, b, slices.Equal) }
	ids, scores := run("--do-sample", "--seed", "1")
	if len(ids) != 2 || len(scores) != 2 || scores[1] > scores[0] {
		t.Fatalf("--seed 1: %v %v", ids, scores)
	}
	if again, sc := run("--do-sample", "--seed", "1"); !same(again, ids) || !slices.Equal(sc, scores) {
		t.Errorf("--seed 1 twice: %v %v, then %v %v", ids, scores, again, sc)
	}
	beam, _ := beamGolden(t, "n3/eos99")
	if plain, _ := run(); !slices.Equal(plain[0], beam[0]) || same(plain, ids) {
		t.Errorf("beam search %v (golden %v), beam sampling %v", plain, beam[0], ids)
	}
	differ := false
	for _, seed := range []string{"2", "3", "4"} {
		other, _ := run("--do-sample", "--seed", seed)
		differ = differ || !same(other, ids)
	}
	if !differ {
		t.Errorf("seeds 1 to 4 all give %v", ids)
	}
	// generation_config.json's do_sample true does the same as --do-sample.
	dir := copyTiny(t, `{"do_sample": true, "num_beams": 3}`)
	out, _, err := runCmd(t, "generate", "--model", dir, "--prompt-ids", "3,17,42", "--num-return-sequences", "2",
		"--max-new-tokens", "8", "--seed", "1", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Sequences []struct {
			IDs []int `json:"ids"`
		} `json:"sequences"`
	}
	json.Unmarshal([]byte(out), &res)
	if len(res.Sequences) != 2 || !slices.Equal(res.Sequences[0].IDs, ids[0]) || !slices.Equal(res.Sequences[1].IDs, ids[1]) {
		t.Errorf("do_sample true in the file: %s, want %v", out, ids)
	}
	// --greedy over the file's do_sample: beam search again.
	out, _, err = runCmd(t, "generate", "--model", dir, "--prompt-ids", "3,17,42", "--greedy",
		"--max-new-tokens", "8", "--seed", "1", "--format", "json")
	if err != nil || !strings.Contains(out, fmt.Sprint(beam[0][0])) {
		t.Errorf("--greedy over do_sample: %s %v", out, err)
	}
	var greedy struct {
		IDs []int `json:"ids"`
	}
	json.Unmarshal([]byte(out), &greedy)
	if !slices.Equal(greedy.IDs, beam[0]) {
		t.Errorf("--greedy over do_sample: %v, want beam search's %v", greedy.IDs, beam[0])
	}
}

// inputLines are --input lines: JSON strings, objects with "text" (and
// other fields), a blank line; their prompts have different lengths.
var inputLines = []string{`"Hello, world"`, `{"text": "The cat sat on the mat and", "id": 7}`, ``, `{"text":"A"}`,
	`"Once upon a time there was"`, `"\tq\u00e9"`}

var inputTexts = []string{"Hello, world", "The cat sat on the mat and", "A", "Once upon a time there was", "\tqé"}

func writeInput(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prompts.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGenerateInputJSON: one JSON line per prompt, in input order, each
// the object a run on that prompt alone prints (same seed), whatever the
// batch size.
func TestGenerateInputJSON(t *testing.T) {
	dir := genTextModel(t)
	path := writeInput(t, inputLines...)
	for _, samp := range []generate.Sampling{{Greedy: true}, {Seed: 4, TopK: 50, Temperature: 1.2}} {
		var alone []generate.Result
		for _, text := range inputTexts {
			out, _, err := genRun(t, genOpts{model: dir, samp: samp, maxNew: 10}, true, text)
			if err != nil {
				t.Fatal(err)
			}
			var r generate.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			alone = append(alone, r)
		}
		for _, bs := range []int{1, 2, 8} {
			out, _, err := genRun(t, genOpts{model: dir, samp: samp, maxNew: 10, input: path, batchSize: bs}, true)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(inputTexts) {
				t.Fatalf("batch size %d: %d lines for %d prompts:\n%s", bs, len(lines), len(inputTexts), out)
			}
			for i, line := range lines {
				if keys, want := jsonKeys(t, line), []string{"ids", "logprobs", "prompt_ids", "stats", "text"}; !slices.Equal(keys, want) {
					t.Errorf("line %d keys %v, want %v", i+1, keys, want)
				}
				var r generate.Result
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatal(err)
				}
				a := alone[i]
				if !slices.Equal(r.PromptIDs, a.PromptIDs) || !slices.Equal(r.IDs, a.IDs) || r.Text != a.Text ||
					r.Stats.PrefillTokens != a.Stats.PrefillTokens || r.Stats.DecodeTokens != a.Stats.DecodeTokens {
					t.Errorf("greedy %v batch size %d line %d: %+v\nalone: %+v", samp.Greedy, bs, i+1, r, a)
				}
				if !closeScores(r.Logprobs, f64(a.Logprobs)) {
					t.Errorf("line %d logprobs %v, alone %v", i+1, r.Logprobs, a.Logprobs)
				}
			}
		}
	}
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// TestGenerateInputText: each prompt's text under a "--- prompt i of N
// ---" line, the text a run on that prompt alone prints; --stats reports
// each batch.
func TestGenerateInputText(t *testing.T) {
	dir := genTextModel(t)
	samp := generate.Sampling{Seed: 11, TopK: 50, Temperature: 1}
	var want strings.Builder
	for i, text := range inputTexts {
		out, _, err := genRun(t, genOpts{model: dir, samp: samp}, false, text)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&want, "--- prompt %d of %d ---\n%s", i+1, len(inputTexts), out)
	}
	out, errw, err := genRun(t, genOpts{model: dir, samp: samp, input: writeInput(t, inputLines...), batchSize: 3, stats: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	if out != want.String() {
		t.Errorf("output:\n%s\nwant:\n%s", out, want.String())
	}
	if strings.Count(errw, "batch: prompts") != 2 || !strings.Contains(errw, "batch: prompts 4 to 5 of 5") || strings.Count(errw, "prefill:") != 2 {
		t.Errorf("stats %q", errw)
	}
}

// TestGenerateInputStdin reads "-" through the command, with its flags.
func TestGenerateInputStdin(t *testing.T) {
	dir := genTextModel(t)
	path := writeInput(t, inputLines...)
	args := []string{"generate", "--model", dir, "--seed", "3", "--max-new-tokens", "5", "--format", "json", "--input"}
	fromFile, _, err := runCmd(t, append(args, path)...)
	if err != nil {
		t.Fatal(err)
	}
	rootCmd.SetIn(strings.NewReader(strings.Join(inputLines, "\n")))
	defer rootCmd.SetIn(nil)
	fromStdin, _, err := runCmd(t, append(args, "-")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(fromStdin, "\n") != len(inputTexts) || !sameIDs(t, fromStdin, fromFile) {
		t.Errorf("stdin:\n%s\nfile:\n%s", fromStdin, fromFile)
	}
	_, _, err = runCmd(t, "generate", "--model", dir, "--input", path, "--batch-size", "0")
	if err == nil || !strings.Contains(err.Error(), "--batch-size 0") {
		t.Errorf("--batch-size 0: %v", err)
	}
}

// sameIDs compares the prompt and generated ids of two JSON lines outputs
// (the timings differ).
func sameIDs(t *testing.T, a, b string) bool {
	t.Helper()
	ids := func(s string) [][]int {
		var out [][]int
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			var r generate.Result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			out = append(out, r.PromptIDs, r.IDs)
		}
		return out
	}
	x, y := ids(a), ids(b)
	return len(x) == len(y) && slices.EqualFunc(x, y, slices.Equal)
}

// TestGenerateInputErrors: a bad line is one error line naming it, before
// anything is generated or printed.
func TestGenerateInputErrors(t *testing.T) {
	dir := genTextModel(t)
	greedy := generate.Sampling{Greedy: true}
	good := writeInput(t, `"a"`)
	long := strings.Repeat("hello ", 30)
	for _, c := range []struct {
		name  string
		lines []string
		f     genOpts
		args  []string
		want  string
	}{
		{"malformed", []string{`"a"`, `{"text": "b"`}, genOpts{}, nil, "line 2: want a JSON string or an object"},
		{"text line", []string{`"a"`, ``, `plain text`}, genOpts{}, nil, "line 3: want a JSON string"},
		{"no text", []string{`{"prompt": "a"}`}, genOpts{}, nil, "line 1: want a JSON string or an object with a \"text\" string"},
		{"number text", []string{`{"text": 3}`}, genOpts{}, nil, "line 1: want"},
		{"not utf-8", []string{`"a"`, `"b"`, "\"caf\xe9\""}, genOpts{}, nil, "line 3 is not valid UTF-8"},
		{"empty string", []string{`"a"`, `""`}, genOpts{}, nil, "line 2: empty prompt"},
		{"empty text", []string{`{"text": ""}`}, genOpts{}, nil, "line 1: empty prompt"},
		{"too long", []string{`"a"`, `"b"`, `"` + long + `"`}, genOpts{}, nil, "line 3: the prompt has 31 tokens, more than the model's context of 24"},
		{"no prompts", []string{``, `  `}, genOpts{}, nil, "no prompts"},
		{"and PROMPT", nil, genOpts{input: good}, []string{"x"}, "give one of PROMPT, --prompt-ids or --input"},
		{"and ids", nil, genOpts{input: good, promptIDs: "1"}, nil, "give one of PROMPT, --prompt-ids or --input"},
		{"missing file", nil, genOpts{input: filepath.Join(t.TempDir(), "none.jsonl")}, nil, "none.jsonl"},
		{"beams", nil, genOpts{input: good, numBeams: 2}, nil, "--num-beams 2: want 1 for a list of prompts"},
		{"samples", nil, genOpts{input: good, numReturn: 2, doSample: true}, nil, "--num-return-sequences 2: want 1 for a list of prompts"},
		{"no tokenizer", nil, genOpts{input: good, model: "../../model/gpt2/testdata/tiny"}, nil, "tiny has no tokenizer"},
	} {
		f := c.f
		if f.model == "" {
			f.model = dir
		}
		f.samp = greedy
		if f.doSample {
			f.samp = generate.Sampling{Temperature: 1, TopK: 50}
		}
		if c.lines != nil {
			f.input = writeInput(t, c.lines...)
		}
		f.batchSize = 1 // a bad line 3 must stop lines 1 and 2 too
		for _, js := range []bool{false, true} {
			out, _, err := genRun(t, f, js, c.args...)
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
}

// TestGenerateInputMaxLength: generation_config.json's max_length (prompt
// included) limits each prompt by its own length; prompts with different
// limits still come out in order and as alone.
func TestGenerateInputMaxLength(t *testing.T) {
	dir := genTextModel(t)
	if err := os.WriteFile(filepath.Join(dir, generate.GenerationConfigFile), []byte(`{"max_length": 9, "do_sample": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	texts := []string{"A", "B", "The cat sat on the", "C"}
	var lines []string
	for _, s := range texts {
		lines = append(lines, fmt.Sprintf("%q", s))
	}
	f := genOpts{model: dir, ignoreEOS: true}
	f.changed = map[string]bool{}
	var alone []string
	for _, s := range texts {
		o, _, err := genRun(t, f, true, s)
		if err != nil {
			t.Fatal(err)
		}
		alone = append(alone, o)
	}
	f.input = writeInput(t, lines...)
	out, _, err := genRun(t, f, true)
	if err != nil {
		t.Fatal(err)
	}
	if !sameIDs(t, out, strings.Join(alone, "")) {
		t.Errorf("batched:\n%s\nalone:\n%s", out, strings.Join(alone, ""))
	}
	var r generate.Result
	json.Unmarshal([]byte(strings.Split(out, "\n")[2]), &r)
	if len(r.PromptIDs)+len(r.IDs) != 9 {
		t.Errorf("line 3: %d + %d tokens, want 9 in all", len(r.PromptIDs), len(r.IDs))
	}
	f.input = writeInput(t, `"A"`, `"`+strings.Repeat("hello ", 10)+`"`)
	if _, _, err := genRun(t, f, true); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "max_length") {
		t.Errorf("max_length shorter than line 2: %v", err)
	}
}
