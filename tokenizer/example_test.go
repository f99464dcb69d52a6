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

func ExampleLoad() {
	for _, dir := range []string{"testdata/gpt2", "testdata/bert-base-uncased"} {
		tok, err := tokenizer.Load(dir) // BPE or WordPiece, as the files say
		if err != nil {
			log.Fatal(err)
		}
		enc := tok.EncodeText("Strawberries, please!", tokenizer.EncodeOptions{})
		fmt.Println(enc.IDs)
		fmt.Printf("%q\n", enc.Tokens)
		var texts []string
		for _, id := range enc.IDs {
			texts = append(texts, tok.TokenText(id))
		}
		fmt.Printf("%q\n", texts)
		fmt.Println(tok.Decode(enc.IDs), tok.VocabSize())
	}
	// Output:
	// [1273 1831 20853 11 3387 0]
	// ["St" "raw" "berries" "," "Ġplease" "!"]
	// ["St" "raw" "berries" "," " please" "!"]
	// Strawberries, please! 50257
	// [101 13137 20968 1010 3531 999 102]
	// ["[CLS]" "straw" "##berries" "," "please" "!" "[SEP]"]
	// ["[CLS]" "straw" "berries" "," "please" "!" "[SEP]"]
	// [CLS] strawberries, please! [SEP] 30522
}
