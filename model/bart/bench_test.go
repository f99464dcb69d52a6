package bart

import (
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

const opusJSON = `{"model_type":"marian","d_model":512,"encoder_layers":6,"decoder_layers":6,
"encoder_attention_heads":8,"decoder_attention_heads":8,"encoder_ffn_dim":2048,"decoder_ffn_dim":2048,
"max_position_embeddings":512,"vocab_size":58101,"activation_function":"swish","scale_embedding":true,
"pad_token_id":58100,"decoder_start_token_id":58100,"eos_token_id":0}`

// BenchmarkDecode is one greedy decoding step at the opus-mt-en-de
// geometry (random weights) after a 64-token source, up to 64 target
// tokens (the decoder is reset every 64 steps).
func BenchmarkDecode(b *testing.B) {
	cfg, err := ParseConfig([]byte(opusJSON))
	if err != nil {
		b.Fatal(err)
	}
	m, err := Random(cfg, 7)
	if err != nil {
		b.Fatal(err)
	}
	src := make([]int, 64)
	for i := range src {
		src[i] = (i*7919)%58000 + 3
	}
	enc, err := m.Encode([][]int{src})
	if err != nil {
		b.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 64})
	if err != nil {
		b.Fatal(err)
	}
	step := [][]int{{cfg.DecoderStartTokenID}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d.Len(0) == 64 {
			d.Reset()
			step[0][0] = cfg.DecoderStartTokenID
		}
		if err := d.Forward(step); err != nil {
			b.Fatal(err)
		}
		step[0][0] = kernels.Argmax(d.Logits(0))
	}
}

// BenchmarkEncode encodes one 64-token source at the opus-mt-en-de
// geometry and sets up a Decoder for it (cross-attention keys and values).
func BenchmarkEncode(b *testing.B) {
	cfg, err := ParseConfig([]byte(opusJSON))
	if err != nil {
		b.Fatal(err)
	}
	m, err := Random(cfg, 7)
	if err != nil {
		b.Fatal(err)
	}
	src := make([]int, 64)
	for i := range src {
		src[i] = (i*7919)%58000 + 3
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		enc, err := m.Encode([][]int{src})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.NewDecoderFor(enc, DecoderOptions{MaxLen: 64}); err != nil {
			b.Fatal(err)
		}
	}
}
