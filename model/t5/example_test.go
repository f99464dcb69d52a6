package t5_test

import (
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/t5"
)

// Greedy decoding with a Decoder: encode the source once, then feed one
// token per step, starting with decoder_start_token_id (T5's pad id), and
// stop at EOS.
func Example() {
	m, err := t5.Load("testdata/tiny-t5")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	enc, err := m.Encode([][]int{{17, 23, 42, 1}})
	if err != nil {
		log.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, t5.DecoderOptions{MaxLen: 8})
	if err != nil {
		log.Fatal(err)
	}
	step := [][]int{{m.Config.DecoderStartTokenID}}
	var out []int
	for len(out) < 4 {
		if err := d.Forward(step); err != nil {
			log.Fatal(err)
		}
		best := kernels.Argmax(d.Logits(0))
		out = append(out, best)
		if best == m.Config.EOSTokenID {
			break
		}
		step[0][0] = best
	}
	fmt.Println(len(out) == d.Len(0))
	// Output: true
}
