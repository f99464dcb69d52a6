package bart_test

import (
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/model/bart"
)

// Greedy decoding with a Decoder: encode the source once, then feed one
// token per step, starting with decoder_start_token_id.
func Example() {
	m, err := bart.Load("testdata/tiny-bart")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	enc, err := m.Encode([][]int{{0, 17, 23, 42, 2}})
	if err != nil {
		log.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, bart.DecoderOptions{MaxLen: 8})
	if err != nil {
		log.Fatal(err)
	}
	step := [][]int{{m.Config.DecoderStartTokenID}}
	var out []int
	for range 4 {
		if err := d.Forward(step); err != nil {
			log.Fatal(err)
		}
		best := 0
		for i, v := range d.Logits(0) {
			if v > d.Logits(0)[best] {
				best = i
			}
		}
		out = append(out, best)
		step[0][0] = best
	}
	fmt.Println(len(out), d.Len(0))
	// Output: 4 4
}
