package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenizeUTF8: text that is not UTF-8 is an error (naming the line for
// --input), as loupe generate does, not tokenized byte by byte.
func TestTokenizeUTF8(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	out, _, err := runCmd(t, "tokenize", "--model", model, "the hat")
	if err != nil || !strings.Contains(out, "tokens") {
		t.Fatalf("valid text: %q %v", out, err)
	}
	if _, _, err := runCmd(t, "tokenize", "--model", model, "caf\xe9"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 argument: %v", err)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"ok\"\n\"caf\xe9\"\n"), 0o644)
	_, _, err = runCmd(t, "tokenize", "--model", model, "--input", in)
	if err == nil || !strings.Contains(err.Error(), "line 2 is not valid UTF-8") {
		t.Errorf("non-UTF-8 line: %v", err)
	}
}

func TestUnknownSubcommand(t *testing.T) {
	resetFlags()
	rootCmd.SetArgs([]string{"index", "frob"})
	err := execute()
	if err == nil || !strings.Contains(err.Error(), `unknown command "frob" for "loupe index"`) {
		t.Errorf("loupe index frob: %v, want an unknown command error", err)
	}
}

// TestTokenizeOutput pins loupe tokenize's table, JSON and JSON lines on the
// real vocabularies in tokenizer/testdata.
func TestTokenizeOutput(t *testing.T) {
	gpt2 := filepath.Join("..", "..", "tokenizer", "testdata", "gpt2")
	bert := filepath.Join("..", "..", "tokenizer", "testdata", "bert-base-uncased")
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"Hi<|endoftext|>\"\n\n{\"text\": \"\", \"id\": 7}\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", gpt2, "Hello", "world,"}, "ID     TOKEN   TEXT\n15496  Hello   \"Hello\"\n995    Ġworld  \" world\"\n11     ,       \",\"\n3 tokens\n"},
		{[]string{"--model", gpt2, "--format", "json", "The end.<|endoftext|>"}, `{"ids":[464,886,29847,91,437,1659,5239,91,29],"tokens":["The","Ġend",".<","|","end","of","text","|",">"]}` + "\n"},
		{[]string{"--model", gpt2, "--format", "json", "--special", "The end.<|endoftext|>"}, `{"ids":[464,886,13,50256],"tokens":["The","Ġend",".","<|endoftext|>"]}` + "\n"},
		{[]string{"--model", gpt2, "--special", "--input", in}, `{"ids":[17250,50256],"tokens":["Hi","<|endoftext|>"]}` + "\n" + `{"id":7,"ids":[],"tokens":[]}` + "\n"},
		{[]string{"--model", gpt2, "--format", "json", ""}, `{"ids":[],"tokens":[]}` + "\n"},
		{[]string{"--model", bert, "--format", "json", "Ünïcödé strawberries"}, `{"ids":[101,27260,13137,20968,102],"tokens":["[CLS]","unicode","straw","##berries","[SEP]"]}` + "\n"},
		{[]string{"--model", bert, "--format", "json", "a [SEP] b"}, `{"ids":[101,1037,1031,19802,1033,1038,102],"tokens":["[CLS]","a","[","sep","]","b","[SEP]"]}` + "\n"},
		{[]string{"--model", bert, "--format", "json", "--special", "a [SEP] b"}, `{"ids":[101,1037,102,1038,102],"tokens":["[CLS]","a","[SEP]","b","[SEP]"]}` + "\n"},
		{[]string{"--model", bert, "strawberries"}, "ID     TOKEN      TEXT\n101    [CLS]      \"[CLS]\"\n13137  straw      \"straw\"\n20968  ##berries  \"berries\"\n102    [SEP]      \"[SEP]\"\n4 tokens\n"},
	} {
		out, _, err := runCmd(t, append([]string{"tokenize"}, c.args...)...)
		if err != nil || out != c.want {
			t.Errorf("loupe tokenize %q:\n%s%v\nwant\n%s", c.args, out, err, c.want)
		}
	}
}

// TestTokenizeErrors: a directory without tokenizer files is named, once.
func TestTokenizeErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := runCmd(t, "tokenize", "--model", dir, "hi")
	if err == nil || !strings.Contains(err.Error(), dir+" has no tokenizer files") || strings.Count(err.Error(), "tokenize: ") != 1 {
		t.Errorf("empty directory: %v", err)
	}
}

// TestTokenizeMaxLengthWarning: text longer than tokenizer_config.json's
// model_max_length is tokenized whole, with a warning on stderr (for BPE as
// for WordPiece).
func TestTokenizeMaxLengthWarning(t *testing.T) {
	gpt2, err := filepath.Abs(filepath.Join("..", "..", "tokenizer", "testdata", "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"vocab.json", "merges.txt"} {
		if err := os.Symlink(filepath.Join(gpt2, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"model_max_length": 2}`), 0o644)
	out, stderr, err := runCmd(t, "tokenize", "--model", dir, "--format", "json", "Hello world, it's")
	if err != nil || !strings.Contains(out, `"ids":[15496,995,11,340,338]`) ||
		!strings.Contains(stderr, "warning: 5 tokens, more than the model's maximum of 2") {
		t.Errorf("%s%s%v", out, stderr, err)
	}
}
