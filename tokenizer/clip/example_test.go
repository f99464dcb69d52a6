package clip_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/tokenizer/clip"
)

// A prompt padded for Stable Diffusion 1.x's text encoder, with the test
// vocabulary (trained on King James verses and prompt-like sentences).
func ExampleTokenizer_EncodePadded() {
	tok, err := clip.Load("testdata/vocab")
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Tokenize("A lighthouse at dusk, oil painting!!"))
	enc := tok.EncodePadded("A lighthouse at dusk, oil painting!!")
	fmt.Println(len(enc.IDs), enc.Length, enc.IDs[0] == tok.BOS(), enc.IDs[enc.Length-1] == tok.EOS(), enc.IDs[76] == tok.Pad())
	// Output:
	// [a</w> lighthouse</w> at</w> dusk</w> ,</w> oil</w> painting</w> ! !</w>]
	// 77 11 true true true
}
