package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/internal/s2stest"
	"github.com/loupe-ml/loupe/tokenizer"
)

// TestTokenizeSentencePiece runs loupe tokenize on a T5-style directory
// (spiece.model from tokenizer/testdata/spm/t5.model); the ids are those
// of python3-sentencepiece with </s> (id 1) appended, as T5Tokenizer does.
func TestTokenizeSentencePiece(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "tokenizer", "testdata", "spm", "t5.model"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"Jesus wept.\"\n{\"text\": \"café 😀\", \"id\": \"b\"}\n\"\"\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "json", "In the beginning God created the heaven"},
			`{"ids":[490,4,1002,50,103,86,239,19,4,238,1],"tokens":["▁In","▁the","▁beginning","▁God","▁c","re","at","ed","▁the","▁heaven","</s>"]}` + "\n"},
		{[]string{"--input", in},
			`{"ids":[182,90,69,18,7,1],"tokens":["▁Jesus","▁we","p","t",".","</s>"]}` + "\n" +
				`{"id":"b","ids":[103,55,97,1047,8,2,1],"tokens":["▁c","a","f","é","▁","😀","</s>"]}` + "\n" +
				`{"ids":[1],"tokens":["</s>"]}` + "\n"},
		{[]string{"Jesus wept."}, "ID   TOKEN   TEXT\n182  ▁Jesus  \" Jesus\"\n90   ▁we     \" we\"\n69   p       \"p\"\n18   t       \"t\"\n7    .       \".\"\n1    </s>    \"</s>\"\n6 tokens\n"},
		{[]string{"--format", "json", "--special", "wept</s>"}, `{"ids":[90,69,18,1,1],"tokens":["▁we","p","t","</s>","</s>"]}` + "\n"},
	} {
		out, _, err := runCmd(t, append([]string{"tokenize", "--model", dir}, c.args...)...)
		if err != nil || out != c.want {
			t.Errorf("loupe tokenize %q:\n%s%v\nwant\n%s", c.args, out, err, c.want)
		}
	}
}

// TestTokenizeMBart runs loupe tokenize on mBART-cc25 and mBART-50
// directories (sentencepiece.bpe.model with tokenizer_config.json's
// tokenizer_class): the ids are LoadMBart's, language code included
// ("X </s> en_XX" for cc25, "en_XX X </s>" for mBART-50), not those of a
// plain SentencePiece model with the same file name (XLM-R's layout).
func TestTokenizeMBart(t *testing.T) {
	root := filepath.Join("..", "..")
	for _, fifty := range []bool{false, true} {
		dir := s2stest.MBart(t, root, fifty)
		if mbart, f := tokenizer.MBartLayout(dir); !mbart || f != fifty {
			t.Fatalf("fifty=%v: MBartLayout = %v, %v", fifty, mbart, f)
		}
		tok, err := tokenizer.LoadMBart(dir, fifty)
		if err != nil {
			t.Fatal(err)
		}
		const text = "In the beginning God created the heaven"
		ids := tok.EncodeText(text, tokenizer.EncodeOptions{}).IDs
		code, ok := tok.LanguageID("en_XX")
		if !ok {
			t.Fatal("no en_XX code")
		}
		if first, last := ids[0], ids[len(ids)-1]; fifty && first != code || !fifty && last != code {
			t.Fatalf("fifty=%v: ids %v do not carry en_XX (%d) where mBART puts it", fifty, ids, code)
		}
		out, _, err := runCmd(t, "tokenize", "--model", dir, "--format", "json", text)
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			IDs []int `json:"ids"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !slices.Equal(got.IDs, ids) {
			t.Errorf("fifty=%v: loupe tokenize gives %v, LoadMBart %v", fifty, got.IDs, ids)
		}
	}
}
