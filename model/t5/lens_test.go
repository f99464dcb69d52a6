package t5

import (
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// TestLayerLogits: with CaptureHidden, the last layer's LayerHidden
// through LayerLogits gives the teacher-forced logits at every position
// (fed in two Forward calls), for tied and untied heads; CopySeq copies
// the captured states, and without the option there are none.
func TestLayerLogits(t *testing.T) {
	src, tgt := []int{3, 9, 4, 7, 1}, []int{0, 5, 8, 2, 11, 6}
	for _, c := range []struct{ name, extra string }{
		{"untied gated-gelu", ""},
		{"tied relu", `,"tie_word_embeddings":true,"feed_forward_proj":"relu"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			goldentest.CheckLayerLogits(t, underTest(newRandom(t, smallConfig(t, c.extra))), src, tgt)
		})
	}
}
