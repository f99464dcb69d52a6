package t5

import (
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// t5SmallJSON is t5-small's geometry (config.json fields).
const t5SmallJSON = `{"model_type":"t5","d_model":512,"d_kv":64,"d_ff":2048,"num_layers":6,"num_heads":8,
"vocab_size":32128,"feed_forward_proj":"relu","relative_attention_num_buckets":32}`

// BenchmarkDecode is one greedy decoding step at the t5-small geometry
// (random weights) after a 64-token source, up to 64 target tokens (the
// decoder is reset every 64 steps).
func BenchmarkDecode(b *testing.B) {
	cfg, err := ParseConfig([]byte(t5SmallJSON))
	if err != nil {
		b.Fatal(err)
	}
	m, err := Random(cfg, 7)
	if err != nil {
		b.Fatal(err)
	}
	goldentest.BenchDecode(b, underTest(m), 32000)
}
