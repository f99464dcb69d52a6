package seq2seq_test

import (
	"context"
	"fmt"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/seq2seq"
)

// Greedy decoding of a tiny random Marian checkpoint from source ids (the
// directory has no tokenizer, so the output is ids). max_length counts the
// decoder's start token; config.json's forced_eos_token_id ends the row
// at max_length - 1 when nothing ends it before.
func ExamplePipeline_RunIDs() {
	p, err := seq2seq.Load(context.Background(), "../model/bart/testdata/tiny-marian", seq2seq.LoadOptions{})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	s := generate.Settings{}
	s.MaxLength = new(12)
	out, err := p.RunIDs(context.Background(), []int{12, 77, 5, 101, 0}, s, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(out.PromptIDs, out.Sequences[0].IDs, out.Sequences[0].Finish)
	// Output: [89] [31 31 31 64 87 64 16 19 19 19 0] eos
}
