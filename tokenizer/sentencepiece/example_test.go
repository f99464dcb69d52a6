package sentencepiece_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

// ExampleLoad encodes and decodes with t5.model, a small Unigram model in
// T5's id layout trained by ../testdata/spm/make.py (python3-sentencepiece
// gives the same ids).
func ExampleLoad() {
	p, err := sentencepiece.Load("../testdata/spm/t5.model")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Encode("In the beginning God created the heaven"))
	fmt.Println(p.EncodeIDs("café 😀"))
	fmt.Printf("%q\n", p.Normalize("  Hello\t\tﬁne  world  "))
	fmt.Printf("%q\n", p.Decode(p.EncodeIDs("  Hello   world  ")))
	fmt.Println(p.EosID(), p.PadID(), p.UnkID(), p.VocabSize())
	// Output:
	// [{490 ▁In} {4 ▁the} {1002 ▁beginning} {50 ▁God} {103 ▁c} {86 re} {239 at} {19 ed} {4 ▁the} {238 ▁heaven}]
	// [103 55 97 1047 8 2]
	// "▁Hello▁fine▁world"
	// "Hello world"
	// 1 0 2 1500
}
