package t5

import (
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
	"github.com/loupe-ml/loupe/safetensors"
)

// smallConfig is a v1.1-shaped test model (gated-gelu, untied head).
func smallConfig(t testing.TB, extra string) Config {
	t.Helper()
	js := `{"model_type":"t5","d_model":32,"d_kv":8,"d_ff":48,"num_layers":2,"num_decoder_layers":2,
		"num_heads":4,"vocab_size":50,"feed_forward_proj":"gated-gelu","tie_word_embeddings":false,
		"relative_attention_num_buckets":16,"relative_attention_max_distance":24` + extra + `}`
	c, err := ParseConfig([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRandom(t testing.TB, c Config) *Model {
	t.Helper()
	m, err := Random(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseConfig(t *testing.T) {
	// t5-small's own config.json fields.
	c, err := ParseConfig([]byte(`{"architectures":["T5ForConditionalGeneration"],"d_ff":2048,"d_kv":64,"d_model":512,
		"decoder_start_token_id":0,"dropout_rate":0.1,"eos_token_id":1,"initializer_factor":1.0,"is_encoder_decoder":true,
		"layer_norm_epsilon":1e-06,"model_type":"t5","n_positions":512,"num_heads":8,"num_layers":6,"output_past":true,
		"pad_token_id":0,"relative_attention_num_buckets":32,"vocab_size":32128}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{DModel: 512, DKV: 64, DFF: 2048, EncoderLayers: 6, DecoderLayers: 6, Heads: 8, VocabSize: 32128,
		Buckets: 32, MaxDistance: 128, LayerNormEps: 1e-6, Activation: "relu", TieWordEmbeddings: true,
		PadTokenID: 0, EOSTokenID: 1, DecoderStartTokenID: 0}
	if c != want {
		t.Errorf("t5-small: %+v, want %+v", c, want)
	}
	// flan-t5-small.
	c, err = ParseConfig([]byte(`{"model_type":"t5","d_ff":1024,"d_kv":64,"d_model":512,"num_heads":6,"num_layers":8,
		"num_decoder_layers":8,"feed_forward_proj":"gated-gelu","tie_word_embeddings":false,"vocab_size":32128}`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Gated || c.Activation != "gelu_new" || c.TieWordEmbeddings || c.Inner() != 384 || c.DecoderLayers != 8 || c.FeedForwardProj() != "gated-gelu" {
		t.Errorf("flan-t5-small: %+v", c)
	}
	for _, tc := range []struct{ proj, act string }{{"relu", "relu"}, {"gelu", "gelu"}, {"gated-relu", "relu"}, {"gated-silu", "silu"}, {"gelu_new", "gelu_new"}} {
		c, err := ParseConfig([]byte(`{"model_type":"t5","feed_forward_proj":"` + tc.proj + `"}`))
		if err != nil || c.Activation != tc.act || c.Gated != strings.HasPrefix(tc.proj, "gated-") || c.FeedForwardProj() != tc.proj {
			t.Errorf("feed_forward_proj %q: %+v %v", tc.proj, c, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ json, field string }{
		{`{"model_type":"bart"}`, "model_type"},
		{`{"d_model":8}`, "model_type"},
		{`{"model_type":"t5","d_model":0}`, "d_model"},
		{`{"model_type":"t5","d_kv":-1}`, "d_kv"},
		{`{"model_type":"t5","d_ff":1e9}`, "d_ff"},
		{`{"model_type":"t5","num_layers":0}`, "num_layers"},
		{`{"model_type":"t5","num_decoder_layers":0}`, "num_decoder_layers"},
		{`{"model_type":"t5","num_heads":5000}`, "num_heads"},
		{`{"model_type":"t5","vocab_size":0}`, "vocab_size"},
		{`{"model_type":"t5","relative_attention_num_buckets":2}`, "relative_attention_num_buckets"},
		{`{"model_type":"t5","relative_attention_max_distance":0}`, "relative_attention_max_distance"},
		{`{"model_type":"t5","layer_norm_epsilon":0}`, "layer_norm_epsilon"},
		{`{"model_type":"t5","feed_forward_proj":"tanh"}`, "feed_forward_proj"},
		{`{"model_type":"t5","feed_forward_proj":"double-gelu"}`, "feed_forward_proj"},
		{`{"model_type":"t5","feed_forward_proj":"gated-gelu-x"}`, "feed_forward_proj"},
		{`{"model_type":"t5","vocab_size":10,"pad_token_id":10}`, "pad_token_id"},
		{`{"model_type":"t5","eos_token_id":"x"}`, "eos_token_id"},
		{`{"model_type":"t5","decoder_start_token_id":1.5}`, "decoder_start_token_id"},
		{`{"model_type":"t5","architectures":["BartModel"]}`, "architecture"},
		{`{"model_type":"t5","d_model":"x"}`, "config.json"},
		{`[1]`, "config.json"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.field)
		}
	}
}

// TestLoadErrors checks that a missing, mis-shaped or unexpected tensor is
// an error naming it.
func TestLoadErrors(t *testing.T) {
	good := t.TempDir()
	if err := newRandom(t, smallConfig(t, "")).Save(good, "F32"); err != nil {
		t.Fatal(err)
	}
	goldentest.CheckLoadErrors(t, good, loadErr, []goldentest.TensorEdit{
		{Name: "missing", Tensor: "decoder.block.1.layer.1.EncDecAttention.k.weight"},
		{Name: "missing gate", Tensor: "encoder.block.0.layer.1.DenseReluDense.wi_1.weight"},
		{Name: "missing bias", Tensor: "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"},
		{Name: "untied head", Tensor: "lm_head.weight"},
		{Name: "no embedding", Tensor: "shared.weight"},
		{Name: "shape", Tensor: "encoder.block.0.layer.0.SelfAttention.o.weight", Edit: func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "encoder.block.0.layer.0.SelfAttention.o.weight" {
					ts[i].Shape, ts[i].Data = []int{x.Shape[0], x.Shape[1] / 2}, x.Data[:len(x.Data)/2]
				}
			}
			return ts
		}},
		{Name: "unexpected", Tensor: "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight", Edit: func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight", Shape: []int{16, 4}, Data: make([]float32, 64)})
		}},
	})
}

// loadErr is Load's error (the model, if any, closed).
func loadErr(dir string) error {
	m, err := Load(dir)
	if err == nil {
		m.Close()
	}
	return err
}

// configOf is m's Config, for goldentest.CheckSaveDTypes.
func configOf(m *Model) any { return m.Config }

// TestSaveDTypes round-trips F32, F16 and BF16 checkpoints, tied and
// untied.
func TestSaveDTypes(t *testing.T) {
	for _, c := range []struct{ name, extra string }{
		{"untied gated-gelu", ""},
		{"tied relu", `,"tie_word_embeddings":true,"feed_forward_proj":"relu"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			goldentest.CheckSaveDTypes(t, newRandom(t, smallConfig(t, c.extra)), Load, configOf, []int{1, 2, 3}, []int{0, 4, 5})
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	goldentest.FuzzConfig(f, ParseConfig, Config.check,
		`{"model_type":"t5"}`,
		`{"model_type":"t5","feed_forward_proj":"gated-gelu","tie_word_embeddings":false,"num_decoder_layers":3}`,
		`{"model_type":"t5","vocab_size":5,"eos_token_id":[2,3],"decoder_start_token_id":null}`,
		`{"model_type":"t5","relative_attention_num_buckets":4,"relative_attention_max_distance":1}`,
		`{}`, `null`, `{"model_type":"t5","d_model":1e99}`,
	)
}

// TestChunks checks that a target fed in pieces (several tokens per pass
// after a cached prefix, split further by MaxRows) gives the logits of the
// teacher-forced pass: the position bias of a query depends on its place in
// the cache.
func TestChunks(t *testing.T) {
	m := newRandom(t, smallConfig(t, ""))
	src := []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30}
	tgt := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	want, err := m.Forward(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	enc, err := m.Encode([][]int{src})
	if err != nil {
		t.Fatal(err)
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{MaxRows: 4, AllLogits: true, MaxLen: 40})
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, n := range []int{5, 7, 1, 3, 16} {
		if err := d.Forward([][]int{tgt[at : at+n]}); err != nil {
			t.Fatal(err)
		}
		if dd := maxAbsDiff(d.AllLogits(0), want[at*V:(at+n)*V]); dd > tol {
			t.Errorf("tokens %d..%d: logits differ by %g", at, at+n, dd)
		}
		at += n
	}
}

// TestReorder checks beam reordering (sources given by rows, cycles through
// the spare row) against decoders fed the same histories.
func TestReorder(t *testing.T) {
	goldentest.CheckReorder(t, underTest(newRandom(t, smallConfig(t, ""))), tol)
}

// TestDecodeAllocs checks that a decoding step, and Reorder, allocate
// nothing.
func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, c := range []struct{ name, extra string }{
		{"untied gated-gelu", ""},
		{"tied relu", `,"tie_word_embeddings":true,"feed_forward_proj":"relu"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			goldentest.CheckDecodeAllocs(t, underTest(newRandom(t, smallConfig(t, c.extra))))
		})
	}
}

// TestForwardErrors checks input validation: nothing changes on error.
func TestForwardErrors(t *testing.T) {
	goldentest.CheckForwardErrors(t, underTest(newRandom(t, smallConfig(t, ""))))
}

// TestTruncate checks that decoding after Truncate equals decoding the
// shorter target from scratch, and that Hidden is the lm_head input.
func TestTruncate(t *testing.T) {
	for _, c := range []struct{ name, extra string }{{"untied", ""}, {"tied", `,"tie_word_embeddings":true`}} {
		t.Run(c.name, func(t *testing.T) {
			m := newRandom(t, smallConfig(t, c.extra))
			goldentest.CheckTruncate(t, underTest(m), tol, func(h []float32) []float32 {
				w, C := m.Weights, m.Config.DModel
				re := make([]float32, m.Config.VocabSize)
				for v := range re {
					for i := range C {
						re[v] += h[i] * w.LMHead[v*C+i]
					}
				}
				return re
			})
		})
	}
}

// TestConcurrentDecoders runs decoders of one Model on several goroutines
// (a Model is read-only; run with -race) and checks they agree.
func TestConcurrentDecoders(t *testing.T) {
	goldentest.CheckConcurrentDecoders(t, underTest(newRandom(t, smallConfig(t, ""))))
}
