package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/tokenizer"
)

// runTokenizerTrain runs loupe in-process with args and returns stdout and
// the error.
func runTokenizerTrain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	defer rootCmd.SetOut(nil)
	defer rootCmd.SetErr(nil)
	resetFlags()
	rootCmd.SetArgs(args)
	outputFormat = "text"
	err := rootCmd.Execute()
	return out.String(), err
}

// TestTokenizerTrain trains on a small corpus (a file and a directory),
// checks the JSON summary, and loads the written directory with
// tokenizer.Load; then the option errors name their flags.
func TestTokenizerTrain(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.txt")
	text := strings.Repeat("the cat sat on the mat. the dog ate the cat's hat!\n", 30)
	os.WriteFile(corpus, []byte(text), 0o644)
	sub := filepath.Join(dir, "more")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "d.txt"), []byte("hello world, hello there\n"), 0o644)
	out := filepath.Join(dir, "tok")

	stdout, err := runTokenizerTrain(t, "tokenizer", "train", "--corpus", corpus, "--corpus", sub, "--vocab-size", "300",
		"--min-frequency", "2", "--special-token", "<|endoftext|>", "--special-token", "<pad>", "--out", out, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		VocabSize int      `json:"vocab_size"`
		Merges    int      `json:"merges"`
		Words     int64    `json:"words"`
		Distinct  int      `json:"distinct_words"`
		Files     []string `json:"files"`
		Seconds   float64  `json:"seconds"`
		Out       string   `json:"out"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if got.VocabSize > 300 || got.VocabSize != 258+got.Merges || got.Merges == 0 || got.Out != out || len(got.Files) != 2 || got.Words == 0 {
		t.Errorf("summary %+v", got)
	}
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token(0) != "<|endoftext|>" || tok.Token(1) != "<pad>" || tok.VocabSize() != got.VocabSize {
		t.Errorf("tokens 0, 1: %q %q; vocab %d", tok.Token(0), tok.Token(1), tok.VocabSize())
	}
	enc := tok.EncodeText(" the cat", tokenizer.EncodeOptions{})
	if len(enc.IDs) != 2 || tok.Decode(enc.IDs) != " the cat" {
		t.Errorf("encode %q", enc.Tokens)
	}

	// Text output, default special token.
	stdout, err = runTokenizerTrain(t, "tokenizer", "train", "--corpus", corpus, "--vocab-size", "260", "--out", out)
	if err != nil || !strings.Contains(stdout, "trained 260 tokens (3 merges)") {
		t.Errorf("text output %q, %v", stdout, err)
	}
	if tok, err := tokenizer.Load(out); err != nil || tok.Token(0) != "<|endoftext|>" {
		t.Errorf("default special token: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", out}, "--corpus is required"},
		{[]string{"--corpus", corpus}, "--out is required"},
		{[]string{"--corpus", corpus, "--out", out, "--vocab-size", "100"}, "--vocab-size 100: want at least 257"},
		{[]string{"--corpus", corpus, "--out", out, "--min-frequency", "-1"}, "--min-frequency -1"},
		{[]string{"--corpus", filepath.Join(dir, "missing"), "--out", out}, "missing"},
		{[]string{"--corpus", corpus, "--out", corpus}, "c.txt"},
	} {
		_, err := runTokenizerTrain(t, append([]string{"tokenizer", "train"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
