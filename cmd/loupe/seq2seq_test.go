package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/tokenizer"
)

// s2sGolden returns a case of seq2seq/testdata/golden.json (the PyTorch
// reference's ids).
func s2sGolden(t *testing.T, name string) (src []int, ids []int, seqs [][]int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "seq2seq", "testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string  `json:"name"`
		Source []int   `json:"source"`
		IDs    []int   `json:"ids"`
		Seqs   [][]int `json:"sequences"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if c.Name == name {
			return c.Source, c.IDs, c.Seqs
		}
	}
	t.Fatalf("no golden case %s", name)
	return nil, nil, nil
}

func joinInts(ids []int, sep string) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, sep)
}

var (
	tinyMarian = filepath.Join("..", "..", "model", "bart", "testdata", "tiny-marian")
	tinyT5     = filepath.Join("..", "..", "model", "t5", "testdata", "tiny-t5")
)

// TestTranslateIDs: loupe translate --source-ids prints the reference's
// greedy ids, and its beam search's sequences with --format json.
func TestTranslateIDs(t *testing.T) {
	src, ids, _ := s2sGolden(t, "marian/greedy")
	out, _, err := runCmd(t, "translate", "--model", tinyMarian, "--source-ids", joinInts(src, ","), "--max-length", "12")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != joinInts(ids, " ") {
		t.Errorf("greedy: %q, want %q", got, joinInts(ids, " "))
	}
	src, ids, _ = s2sGolden(t, "t5/greedy")
	out, _, err = runCmd(t, "summarize", "--model", tinyT5, "--source-ids", joinInts(src, ","), "--max-length", "12")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != joinInts(ids, " ") {
		t.Errorf("T5 greedy: %q, want %q", got, joinInts(ids, " "))
	}
	src, _, seqs := s2sGolden(t, "marian/beam4")
	out, _, err = runCmd(t, "translate", "--model", tinyMarian, "--source-ids", joinInts(src, ","), "--max-length", "14",
		"--num-beams", "4", "--length-penalty", "1", "--no-repeat-ngram-size", "3", "--num-return-sequences", "3", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		PromptIDs []int `json:"prompt_ids"`
		Sequences []struct {
			IDs []int `json:"ids"`
		} `json:"sequences"`
		Scores []float32 `json:"sequences_scores"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !slices.Equal(res.PromptIDs, []int{89}) || len(res.Sequences) != 3 || len(res.Scores) != 3 {
		t.Fatalf("json %s", out)
	}
	for i, sq := range res.Sequences {
		if !slices.Equal(sq.IDs, seqs[i]) {
			t.Errorf("beam %d: %v, want %v", i, sq.IDs, seqs[i])
		}
	}
}

// tinyBARTWithTokenizer writes a random BART of tiny-bart's shape with a
// vocabulary of 300 and a byte-level BPE for it (BART's specials at ids 0
// to 3, the 256 byte tokens, a few merges).
func tinyBARTWithTokenizer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "model", "bart", "testdata", "tiny-bart", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	raw["vocab_size"] = 300
	b, _ = json.Marshal(raw)
	cfg, err := bart.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bart.Random(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	vocab := map[string]int{"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
	for c := range 256 {
		vocab[tokenizer.ByteLevelString([]byte{byte(c)})] = len(vocab)
	}
	merges := []string{"Ġ t", "h e", "Ġt he", "Ġ c", "a t", "Ġc at"}
	for _, tok := range []string{"Ġt", "he", "Ġthe", "Ġc", "at", "Ġcat"} {
		vocab[tok] = len(vocab)
	}
	vb, _ := json.Marshal(vocab)
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), vb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "merges.txt"), []byte("#version: 0.2\n"+strings.Join(merges, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSummarizeText: a text source streams the same text --format json
// gives, --input decodes every line as it decodes alone, and the errors
// name what is wrong.
func TestSummarizeText(t *testing.T) {
	dir := tinyBARTWithTokenizer(t)
	args := []string{"summarize", "--model", dir, "--max-length", "12", "--repetition-penalty", "3"}
	js, _, err := runCmd(t, append(args, "--format", "json", "the cat sat")...)
	if err != nil {
		t.Fatal(err)
	}
	var one struct {
		IDs  []int  `json:"ids"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(js), &one); err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	if len(one.IDs) == 0 || one.IDs[0] != 0 {
		t.Errorf("ids %v: want forced_bos_token_id 0 first", one.IDs)
	}
	txt, _, err := runCmd(t, append(args, "the cat sat")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(txt, "\n") != one.Text {
		t.Errorf("streamed %q, json text %q", txt, one.Text)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"the cat sat\"\n{\"text\": \"a cat\"}\n\"the the the\"\n"), 0o644)
	lines, _, err := runCmd(t, append(args, "--format", "json", "--input", in, "--batch-size", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(lines), "\n")
	if len(rows) != 3 {
		t.Fatalf("%d lines: %s", len(rows), lines)
	}
	var first struct {
		IDs []int `json:"ids"`
	}
	json.Unmarshal([]byte(rows[0]), &first)
	if !slices.Equal(first.IDs, one.IDs) {
		t.Errorf("--input line 1: %v, alone %v", first.IDs, one.IDs)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"summarize", "the cat"}, "--model is required"},
		{[]string{"translate", "--model", tinyMarian, "--source-ids", "1,2", "text"}, "not both"},
		{[]string{"translate", "--model", tinyMarian, "hello"}, "no tokenizer"},
		{[]string{"translate", "--model", tinyMarian, "--source-ids", strings.Repeat("5,", 40) + "0"}, "max_position_embeddings 40"},
		{[]string{"generate", "--model", tinyMarian, "--prompt-ids", "1", "--quantize", "int8"}, "--quantize applies to GPT-2 only"},
		{[]string{"generate", "--model", tinyT5, "--prompt-ids", "1", "--knn", "x.knn"}, "need a GPT-2"},
		{[]string{"generate", "--model", tinyT5, "hello"}, "no tokenizer"},
	} {
		_, _, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.want)
		}
	}
}

// TestGenerateText2Text: loupe generate on an encoder-decoder model runs
// it as text-to-text: the same output as loupe summarize with the same
// flags, for text, --prompt-ids, --format json and --input.
func TestGenerateText2Text(t *testing.T) {
	dir := tinyBARTWithTokenizer(t)
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"the cat sat\"\n\"a cat\"\n"), 0o644)
	src, _, _ := s2sGolden(t, "marian/greedy")
	for _, c := range []struct {
		model string
		args  []string
	}{
		{dir, []string{"--max-length", "12", "--repetition-penalty", "3", "the cat sat"}},
		{dir, []string{"--max-new-tokens", "5", "--format", "json", "the cat"}},
		{dir, []string{"--num-beams", "3", "--num-return-sequences", "2", "--max-length", "8", "the cat"}},
		{dir, []string{"--max-length", "6", "--format", "json", "--input", in}},
		{dir, []string{"--do-sample", "--seed", "7", "--max-length", "9", "the cat"}},
		{tinyMarian, []string{"--max-length", "12", "--source-ids", joinInts(src, ",")}},
		{tinyT5, []string{"--max-length", "7", "--source-ids", "5,6,7,1"}},
	} {
		want, _, err := runCmd(t, append([]string{"summarize", "--model", c.model}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		gargs := slices.Clone(c.args)
		for i, a := range gargs {
			if a == "--source-ids" {
				gargs[i] = "--prompt-ids"
			}
		}
		got, _, err := runCmd(t, append([]string{"generate", "--model", c.model}, gargs...)...)
		if err != nil {
			t.Fatalf("generate %v: %v", gargs, err)
		}
		if strings.Contains(got, `"prefill_seconds"`) { // timings differ
			got, want = dropStats(t, got), dropStats(t, want)
		}
		if got != want || got == "" {
			t.Errorf("generate %v:\n%s\nsummarize:\n%s", gargs, got, want)
		}
	}
}

// dropStats removes the "stats" object of each JSON line.
func dropStats(t *testing.T, s string) string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		delete(m, "stats")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

// TestTranslateTasks: --from/--to apply config.json's translation task
// (the prefix before the source, its settings under the flags given),
// summarize applies summarization, --src-lang/--tgt-lang mBART's codes,
// and --max-source-tokens truncates what is otherwise an error naming the
// limit.
func TestTranslateTasks(t *testing.T) {
	tasks := map[string]any{
		"summarization":        map[string]any{"num_beams": 2, "max_length": 6, "prefix": "summarize: "},
		"translation_en_to_de": map[string]any{"num_beams": 3, "max_length": 5, "prefix": "translate English to German: "},
	}
	dir := s2stest.T5(t, filepath.Join("..", ".."), map[string]any{"task_specific_params": tasks, "n_positions": 30})
	type out struct {
		IDs  []int  `json:"ids"`
		Text string `json:"text"`
	}
	run := func(args ...string) out {
		t.Helper()
		js, _, err := runCmd(t, append(args, "--format", "json")...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var o out
		if err := json.Unmarshal([]byte(js), &o); err != nil {
			t.Fatalf("%v: %s", err, js)
		}
		return o
	}
	// The task's prefix and settings (3 beams, max_length 5) equal giving
	// them by hand.
	got := run("translate", "--model", dir, "--from", "en", "--to", "de", "hello")
	want := run("translate", "--model", dir, "--num-beams", "3", "--max-length", "5", "translate English to German: hello")
	if !slices.Equal(got.IDs, want.IDs) || len(got.IDs) > 4 {
		t.Errorf("--from en --to de: %v, want %v", got.IDs, want.IDs)
	}
	// A flag wins over the task.
	got = run("translate", "--model", dir, "--from", "en", "--to", "de", "--num-beams", "1", "--max-length", "3", "hello")
	want = run("translate", "--model", dir, "--num-beams", "1", "--max-length", "3", "translate English to German: hello")
	if !slices.Equal(got.IDs, want.IDs) || len(got.IDs) != 2 {
		t.Errorf("--from en --to de --max-length 3: %v, want %v", got.IDs, want.IDs)
	}
	got = run("summarize", "--model", dir, "hello")
	want = run("generate", "--model", dir, "--num-beams", "2", "--max-length", "6", "summarize: hello")
	if !slices.Equal(got.IDs, want.IDs) {
		t.Errorf("summarize: %v, want %v (generate with the prefix)", got.IDs, want.IDs)
	}
	long := strings.Repeat("hello world, this is a much longer sentence ", 3)
	got = run("translate", "--model", dir, "--max-source-tokens", "30", "--max-length", "4", long)
	if len(got.IDs) == 0 {
		t.Errorf("--max-source-tokens 30: no output")
	}
	mb := s2stest.MBart(t, filepath.Join("..", ".."), true)
	got = run("translate", "--model", mb, "--src-lang", "en_XX", "--tgt-lang", "fr_XX", "--greedy", "--max-length", "4", "hello")
	if fr := 2000 + 1 + slices.Index(tokenizer.MBart50Languages, "fr_XX"); len(got.IDs) == 0 || got.IDs[0] != fr {
		t.Errorf("--tgt-lang fr_XX: %v, want %d first", got.IDs, fr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"translate", "--model", dir, long}, "more than the model's n_positions 30 (truncate it with MaxSourceTokens, loupe's --max-source-tokens)"},
		{[]string{"translate", "--model", dir, "--from", "de", "--to", "en", "hello"}, `--from de --to en: seq2seq: ` + filepath.Join(dir, "config.json") + `: task "translation_de_to_en": no such task`},
		{[]string{"translate", "--model", dir, "--from", "en", "hello"}, "give --from and --to together"},
		{[]string{"translate", "--model", dir, "--src-lang", "en_XX", "hello"}, "need an mBART model"},
		{[]string{"translate", "--model", mb, "--tgt-lang", "xx", "hello"}, `language code "xx": want one of ar_AR`},
		{[]string{"translate", "--model", dir, "--max-source-tokens", "-1", "hello"}, "--max-source-tokens -1"},
		{[]string{"translate", "--model", tinyMarian, "--max-source-tokens", "41", "--source-ids", "5,2"}, "more than the model's max_position_embeddings 40"},
	} {
		_, _, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.args[3:], err, c.want)
		}
	}
}

// TestGenerateMaxLength: on a GPT-2, --max-length counts the prompt
// (transformers' max_length): 2 prompt tokens and --max-length 6 give what
// --max-new-tokens 4 gives; --min-length likewise.
func TestGenerateMaxLength(t *testing.T) {
	tiny := filepath.Join("..", "..", "explain", "testdata", "tiny")
	a, _, err := runCmd(t, "generate", "--model", tiny, "--greedy", "--ignore-eos", "--prompt-ids", "10,11", "--max-length", "6", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := runCmd(t, "generate", "--model", tiny, "--greedy", "--ignore-eos", "--prompt-ids", "10,11", "--max-new-tokens", "4", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var x, y struct {
		IDs []int `json:"ids"`
	}
	json.Unmarshal([]byte(a), &x)
	json.Unmarshal([]byte(b), &y)
	if len(x.IDs) != 4 || !slices.Equal(x.IDs, y.IDs) {
		t.Errorf("--max-length 6: %v, --max-new-tokens 4: %v", x.IDs, y.IDs)
	}
	if _, _, err := runCmd(t, "generate", "--model", tiny, "--prompt-ids", "10,11", "--max-length", "2"); err == nil || !strings.Contains(err.Error(), "--max-length 2: want more than the prompt's 2 tokens") {
		t.Errorf("--max-length 2 with a 2-token prompt: %v", err)
	}
}
