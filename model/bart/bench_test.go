package bart

import (
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

const opusJSON = `{"model_type":"marian","d_model":512,"encoder_layers":6,"decoder_layers":6,
"encoder_attention_heads":8,"decoder_attention_heads":8,"encoder_ffn_dim":2048,"decoder_ffn_dim":2048,
"max_position_embeddings":512,"vocab_size":58101,"activation_function":"swish","scale_embedding":true,
"pad_token_id":58100,"decoder_start_token_id":58100,"eos_token_id":0}`

// opus is a Model at the opus-mt-en-de geometry (random weights).
func opus(b *testing.B) *Model {
	cfg, err := ParseConfig([]byte(opusJSON))
	if err != nil {
		b.Fatal(err)
	}
	m, err := Random(cfg, 7)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDecode is one greedy decoding step at the opus-mt-en-de
// geometry (random weights) after a 64-token source, up to 64 target
// tokens (the decoder is reset every 64 steps).
func BenchmarkDecode(b *testing.B) { goldentest.BenchDecode(b, underTest(opus(b)), 58000) }

// BenchmarkEncode encodes one 64-token source at the opus-mt-en-de
// geometry and sets up a Decoder for it (cross-attention keys and values).
func BenchmarkEncode(b *testing.B) { goldentest.BenchEncode(b, underTest(opus(b)), 58000) }
