package t5

import (
	"math"
	"slices"
	"testing"
)

// TestLayerLogits: with CaptureHidden, the last layer's LayerHidden
// through LayerLogits gives the teacher-forced logits at every position
// (fed in two Forward calls), for tied and untied heads; CopySeq
// copies the captured states, and without the option there are none.
func TestLayerLogits(t *testing.T) {
	src, tgt := []int{3, 9, 4, 7, 1}, []int{0, 5, 8, 2, 11, 6}
	for _, extra := range []string{"", `,"tie_word_embeddings":true,"feed_forward_proj":"relu"`} {
		c := smallConfig(t, extra)
		m := newRandom(t, c)
		want, err := m.Forward(src, tgt)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := m.Encode([][]int{src})
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 2, MaxLen: len(tgt), CaptureHidden: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range [][]int{tgt[:2], tgt[2:]} {
			if err := d.Forward([][]int{part}); err != nil {
				t.Fatal(err)
			}
		}
		d.CopySeq(1, 0)
		V := c.VocabSize
		got := make([]float32, V)
		worst := 0.0
		for p := range tgt {
			m.LayerLogits(got, d.LayerHidden(0, c.DecoderLayers-1, p))
			for j, v := range got {
				worst = max(worst, math.Abs(float64(v-want[p*V+j])))
			}
			if !slices.Equal(d.LayerHidden(1, 0, p), d.LayerHidden(0, 0, p)) {
				t.Errorf("%s: CopySeq did not copy layer 0 at %d", extra, p)
			}
			if slices.Equal(d.LayerHidden(0, 0, p), d.LayerHidden(0, 1, p)) {
				t.Errorf("%s: layers 0 and 1 have the same output at %d", extra, p)
			}
		}
		if worst > 1e-4 {
			t.Errorf("%s: last layer's lens logits differ from the model's by %g", extra, worst)
		}
		if d.LayerHidden(0, 0, len(tgt)) != nil || d.LayerHidden(0, c.DecoderLayers, 0) != nil {
			t.Errorf("%s: LayerHidden past the cached positions or layers is not nil", extra)
		}
		plain, _ := m.NewDecoderFor(enc, DecoderOptions{})
		plain.Forward([][]int{tgt[:1]})
		if plain.LayerHidden(0, 0, 0) != nil {
			t.Errorf("%s: LayerHidden without CaptureHidden", extra)
		}
	}
}
