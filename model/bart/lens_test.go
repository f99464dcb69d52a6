package bart

import (
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// TestLayerLogits: with CaptureHidden, the last layer's LayerHidden
// through LayerLogits gives the teacher-forced logits at every position
// (fed in two Forward calls), for post- and pre-LayerNorm models; CopySeq
// copies the captured states, and without the option there are none.
func TestLayerLogits(t *testing.T) {
	src, tgt := []int{3, 9, 4, 7, 0}, []int{49, 5, 8, 2, 11, 6}
	for _, extra := range []string{"", `,"model_type":"mbart","normalize_before":true,"add_final_layer_norm":true`} {
		c := smallConfig(t, extra)
		if extra != "" && !c.PreLayerNorm {
			t.Fatalf("the mBART config is not pre-LayerNorm")
		}
		t.Run(c.ModelType, func(t *testing.T) {
			goldentest.CheckLayerLogits(t, underTest(newRandom(t, c)), src, tgt)
		})
	}
}
