package bart

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestSelfAttentionParity: the encoder's captured self-attention
// (EncodeOptions.CaptureAttention) and the decoder's causal self-attention
// (DecoderOptions.CaptureSelf) equal the reference's output_attentions
// probabilities (testdata/attention.safetensors, written by
//
//	/usr/bin/python3 model/bart/testdata/reference.py attention
//
// ), whether the target goes through in one pass, in passes of a few rows
// or one token at a time.
func TestSelfAttentionParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "attention.safetensors"))
	for _, name := range []string{"bart", "mbart", "marian"} {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, g, name)
			src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
			S, T := len(src), len(tgt)
			enc, err := m.EncodeWith([][]int{src}, EncodeOptions{CaptureAttention: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			for l := range m.Config.EncoderLayers {
				for h := range m.Config.EncoderHeads {
					got = append(got, enc.Attention(0, l, h)...)
				}
			}
			want := g.Get(t, name+".enc_self")
			if len(got) != len(want) || len(got) != m.Config.EncoderLayers*m.Config.EncoderHeads*S*S {
				t.Fatalf("encoder self-attention: %d values, want %d", len(got), len(want))
			}
			if d := maxAbsDiff(got, want); d > tol {
				t.Errorf("encoder self-attention: max |diff| %g > %g", d, tol)
			}
			if plain, _ := m.Encode([][]int{src}); plain.Attention(0, 0, 0) != nil {
				t.Error("Encode without CaptureAttention kept attention")
			}
			// The reference's [L, nh, T, T] with zeros above the diagonal.
			want = g.Get(t, name+".dec_self")
			for _, step := range []int{T, 3, 1} {
				d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: T, MaxRows: max(step, 1), CaptureSelf: true})
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < T; i += step {
					if err := d.Forward([][]int{tgt[i:min(i+step, T)]}); err != nil {
						t.Fatal(err)
					}
				}
				got = got[:0]
				for l := range m.Config.DecoderLayers {
					for h := range m.Config.DecoderHeads {
						for p := range T {
							row := d.SelfAttention(0, l, h, p)
							if len(row) != p+1 {
								t.Fatalf("step %d: layer %d head %d position %d: %d probabilities, want %d", step, l, h, p, len(row), p+1)
							}
							got = append(got, row...)
							got = append(got, make([]float32, T-p-1)...)
						}
					}
				}
				if dd := maxAbsDiff(got, want); dd > tol {
					t.Errorf("decoder self-attention, %d tokens a pass: max |diff| %g > %g", step, dd, tol)
				}
				if d.SelfAttention(0, 0, 0, T) != nil || d.SelfAttention(0, m.Config.DecoderLayers, 0, 0) != nil {
					t.Error("SelfAttention out of range is not nil")
				}
				// CopySeq carries the probabilities.
				if step == T {
					d2, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 2, MaxLen: T, CaptureSelf: true})
					if err != nil {
						t.Fatal(err)
					}
					if err := d2.Forward([][]int{tgt}); err != nil {
						t.Fatal(err)
					}
					d2.CopySeq(1, 0)
					if a, b := d2.SelfAttention(0, 0, 0, T-1), d2.SelfAttention(1, 0, 0, T-1); !slices.Equal(a, b) {
						t.Errorf("CopySeq: row 1 %v, row 0 %v", b, a)
					}
				}
			}
		})
	}
}
