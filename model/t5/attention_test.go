package t5

import (
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// TestSelfAttentionParity: the encoder's captured self-attention
// (EncodeOptions.CaptureAttention) and the decoder's causal self-attention
// (DecoderOptions.CaptureSelf) equal the reference's output_attentions
// probabilities (testdata/attention.safetensors, written by
//
//	/usr/bin/python3 model/t5/testdata/reference.py attention
//
// ), whether the target goes through in one pass, in passes of a few rows
// or one token at a time.
func TestSelfAttentionParity(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "attention.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
		t.Run(name, func(t *testing.T) {
			goldentest.CheckSelfAttention(t, g, name, underTest(randomModel(t, g, name)), tol)
		})
	}
}
