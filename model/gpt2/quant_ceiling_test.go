package gpt2

import (
	"math"
	"os"
	"strconv"
	"testing"
)

// ceilingBlock is the number of inputs that share a scale in
// TestInt8WeightCeiling (LOUPE_QUANT_BLOCK; 0: a whole row, as QLinear).
var ceilingBlock, _ = strconv.Atoi(os.Getenv("LOUPE_QUANT_BLOCK"))

// roundPerRow rounds each of the n rows of length k of w (row-major) to
// int8 steps of its own symmetric scale (max |w| / 127) and back to float32:
// the weight error of QLinear's int8 weights, without its activation
// rounding. With ceilingBlock > 0 each block of that many inputs of a row
// has its own scale (ggml's q8_0 uses 32).
func roundPerRow(w []float32, n, k int) {
	bs := k
	if ceilingBlock > 0 {
		bs = ceilingBlock
	}
	for o := range n * k / bs {
		row := w[o*bs : min((o+1)*bs, n*k)]
		var mx float32
		for _, v := range row {
			mx = max(mx, float32(math.Abs(float64(v))))
		}
		if mx == 0 {
			continue
		}
		s := mx / 127
		for i, v := range row {
			row[i] = float32(math.Round(float64(v/s))) * s
		}
	}
}

// roundConv1D does roundPerRow over the output channels (columns) of a
// Conv1D weight [in, out].
func roundConv1D(w []float32, in, out int) {
	t := make([]float32, in*out)
	for i := range in {
		for j := range out {
			t[j*in+i] = w[i*out+j]
		}
	}
	roundPerRow(t, out, in)
	for i := range in {
		for j := range out {
			w[i*out+j] = t[j*in+i]
		}
	}
}

// TestInt8WeightCeiling measures, on GPT-2 small's geometry with
// TestQuantizeSmallQuality's random weights and positions, how close any
// scheme with int8 weights per output channel can come to float32: the
// weights (every block's four linears and the tied head, so the embedding
// lookup too) are rounded to int8 steps and back, and the pass stays
// float32 — no activation rounding at all. Its top-1 agreement bounds what
// Int8 (which also rounds the activations) can reach on this checkpoint.
// Slow on a small machine: set LOUPE_QUANT_SMALL=1.
func TestInt8WeightCeiling(t *testing.T) {
	if os.Getenv("LOUPE_QUANT_SMALL") == "" {
		t.Skip("set LOUPE_QUANT_SMALL=1 (builds a GPT-2 small sized model)")
	}
	m, err := Random(gpt2Small, 3, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	C := c.NEmbd
	ids := teacherIDs(1000, c.VocabSize)
	ref, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	for l := range m.Weights.Blocks {
		b := &m.Weights.Blocks[l]
		roundConv1D(b.AttnW, C, 3*C)
		roundConv1D(b.AttnProjW, C, C)
		roundConv1D(b.FCW, C, 4*C)
		roundConv1D(b.ProjW, 4*C, C)
	}
	roundPerRow(m.Weights.LMHead, c.VocabSize, C)
	got, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := compareLogits(ref, got, c.VocabSize)
	t.Logf("int8 weights (scale per %d inputs; 0: per row), float32 activations, %d teacher-forced positions: log-softmax cosine ≥ %.6f (centred %.6f), mean KL %.2e nats, top-1 agreement %.4f",
		ceilingBlock, len(ids), st.cos, st.cosC, st.kl, st.top1)
	if st.cos < 0.999 || st.clearBad > 0 {
		t.Errorf("int8-rounded weights too far from float32: %+v", st)
	}
}
