package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/tokenizer"
)

func ExampleBPE_Encode() {
	bpe, err := tokenizer.LoadBPE("testdata/gpt2")
	if err != nil {
		log.Fatal(err)
	}
	ids := bpe.Encode("Hello world, it's 2024!")
	fmt.Println(ids)
	var texts []string
	for _, id := range ids {
		texts = append(texts, bpe.TokenText(id))
	}
	fmt.Printf("%q\n", texts)
	fmt.Println(bpe.Decode(ids))
	fmt.Println(bpe.EncodeAllowSpecial("The end.<|endoftext|>"))
	// Output:
	// [15496 995 11 340 338 48609 0]
	// ["Hello" " world" "," " it" "'s" " 2024" "!"]
	// Hello world, it's 2024!
	// [464 886 13 50256]
}

func ExampleWordPiece_EncodePair() {
	wp, err := tokenizer.LoadWordPiece("testdata/bert-base-uncased")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(wp.Tokenize("Ünïcödé strawberries!"))
	e := wp.EncodePair("How old is the lighthouse?", "It was built in 1850.", 12)
	fmt.Println(e.Tokens)
	fmt.Println(e.IDs)
	fmt.Println(e.TypeIDs, e.Truncated)
	// Output:
	// [unicode straw ##berries !]
	// [[CLS] how old is the lighthouse [SEP] it was built in [SEP]]
	// [101 2129 2214 2003 1996 10171 102 2009 2001 2328 1999 102]
	// [0 0 0 0 0 0 0 1 1 1 1 1] true
}
