package seq2seq

import (
	"context"
	"testing"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/model/bart"
)

// opusJSON is Helsinki-NLP/opus-mt-en-de's geometry (model/bart's
// benchmarks use the same).
const opusJSON = `{"model_type":"marian","d_model":512,"encoder_layers":6,"decoder_layers":6,
"encoder_attention_heads":8,"decoder_attention_heads":8,"encoder_ffn_dim":2048,"decoder_ffn_dim":2048,
"max_position_embeddings":512,"vocab_size":58101,"activation_function":"swish","scale_embedding":true,
"pad_token_id":58100,"eos_token_id":0,"decoder_start_token_id":58100}`

// BenchmarkSaliencyOpus is the saliency of a 20-token target over a
// 20-token source at the opus-mt-en-de geometry (random weights):
// grad_x_input (one forward, one backward for all 20 target tokens) and
// integrated gradients with 20 steps.
func BenchmarkSaliencyOpus(b *testing.B) {
	cfg, err := bart.ParseConfig([]byte(opusJSON))
	if err != nil {
		b.Fatal(err)
	}
	m, err := bart.Random(cfg, 7)
	if err != nil {
		b.Fatal(err)
	}
	src, tgt := make([]int, 20), make([]int, 20)
	for i := range src {
		src[i], tgt[i] = 100+37*i, 200+41*i
	}
	for _, c := range []struct {
		name    string
		methods []string
	}{{"grad_x_input", []string{explain.MethodGradXInput}}, {"ig20", []string{explain.MethodIntegrated}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := saliency(context.Background(), bartDiff(m), src, cfg.DecoderStartTokenID, tgt, SaliencyOptions{Methods: c.methods}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
