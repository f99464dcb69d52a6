package main

import (
	"os"
	"path/filepath"
	"testing"
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
