package bart

import (
	"math"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
	"github.com/loupe-ml/loupe/safetensors"
)

// smallConfig is a Marian-shaped test model.
func smallConfig(t testing.TB, extra string) Config {
	t.Helper()
	js := `{"model_type":"marian","d_model":32,"encoder_layers":2,"decoder_layers":2,
		"encoder_attention_heads":4,"decoder_attention_heads":4,"encoder_ffn_dim":64,"decoder_ffn_dim":64,
		"max_position_embeddings":64,"vocab_size":50,"activation_function":"swish","scale_embedding":true,
		"pad_token_id":49,"decoder_start_token_id":49,"eos_token_id":0` + extra + `}`
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

// TestSinusoidal checks Marian's layout: sines in the first half, cosines
// of the same angles in the second (not interleaved).
func TestSinusoidal(t *testing.T) {
	const n, dim = 5, 8
	s := sinusoidal(n, dim)
	for p := range n {
		for j := range dim / 2 {
			a := float64(p) / math.Pow(10000, float64(2*j)/dim)
			if got, want := s[p*dim+j], float32(math.Sin(a)); got != want {
				t.Errorf("pos %d col %d: %g, want sin %g", p, j, got, want)
			}
			if got, want := s[p*dim+dim/2+j], float32(math.Cos(a)); got != want {
				t.Errorf("pos %d col %d: %g, want cos %g", p, dim/2+j, got, want)
			}
		}
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
	goldentest.CheckDecodeAllocs(t, underTest(newRandom(t, smallConfig(t, ""))))
}

// TestForwardErrors checks input validation: nothing changes on error.
func TestForwardErrors(t *testing.T) {
	m := newRandom(t, smallConfig(t, ""))
	goldentest.CheckForwardErrors(t, underTest(m))
	if _, err := m.Encode([][]int{make([]int, 65)}); err == nil || !strings.Contains(err.Error(), "max_position_embeddings") {
		t.Errorf("long source: %v", err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := `"model_type":"bart","d_model":16,"encoder_attention_heads":2,"decoder_attention_heads":2,"vocab_size":20`
	for _, tc := range []struct{ json, field string }{
		{`{"model_type":"t5"}`, "model_type"},
		{`{"d_model":8}`, "model_type"},
		{`{` + base + `,"normalize_before":true}`, "normalize_before"},
		{`{` + base + `,"add_final_layer_norm":true}`, "add_final_layer_norm"},
		{`{` + base + `,"add_bias_logits":true}`, "add_bias_logits"},
		{`{` + base + `,"static_position_embeddings":true}`, "static_position_embeddings"},
		{`{` + base + `,"normalize_embedding":false}`, "normalize_embedding"},
		{`{` + base + `,"activation_function":"tanh"}`, "activation_function"},
		{`{` + base + `,"d_model":15}`, "d_model"},
		{`{` + base + `,"d_model":-1}`, "d_model"},
		{`{` + base + `,"encoder_layers":0}`, "encoder_layers"},
		{`{` + base + `,"pad_token_id":20}`, "pad_token_id"},
		{`{` + base + `,"eos_token_id":"x"}`, "eos_token_id"},
		{`{` + base + `,"architectures":["GPT2LMHeadModel"]}`, "architecture"},
		{`{` + base + `,"share_encoder_decoder_embeddings":false}`, "share_encoder_decoder_embeddings"},
		{`{` + base + `,"decoder_vocab_size":30}`, "decoder_vocab_size"},
		{`{"model_type":"marian","d_model":16,"encoder_attention_heads":2,"decoder_attention_heads":2,"vocab_size":20,"static_position_embeddings":false}`, "static_position_embeddings"},
		{`{"model_type":"marian","d_model":15,"encoder_attention_heads":3,"decoder_attention_heads":3,"vocab_size":20}`, "odd"},
		{`{"model_type":"mbart","normalize_before":false}`, "normalize_before"},
		{`{"model_type":"mbart","add_final_layer_norm":false}`, "add_final_layer_norm"},
		{`{"model_type":"mbart","share_encoder_decoder_embeddings":false}`, "share_encoder_decoder_embeddings"},
		{`[1]`, "config.json"},
	} {
		_, err := ParseConfig([]byte(tc.json))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.field)
		}
	}
	if c, err := ParseConfig([]byte(`{"model_type":"mbart","architectures":["MBartForConditionalGeneration"],"normalize_before":true,"add_final_layer_norm":true,"scale_embedding":true}`)); err != nil || !c.PreLayerNorm || !c.LayerNormEmbedding || c.SinusoidalPositions || c.DecoderStartTokenID != -1 {
		t.Errorf("mbart: %+v, %v", c, err)
	}
	// Marian with separate vocabularies.
	c, err := ParseConfig([]byte(`{"model_type":"marian","vocab_size":30,"decoder_vocab_size":20,"share_encoder_decoder_embeddings":false,"pad_token_id":19,"decoder_start_token_id":19,"eos_token_id":0}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.VocabSize != 30 || c.DecoderVocab != 20 || c.ShareEmbeddings || c.Activation != "gelu" || c.DModel != 1024 {
		t.Errorf("parsed %+v", c)
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
		{Name: "missing", Tensor: "model.decoder.layers.1.encoder_attn.k_proj.bias"},
		{Name: "shape", Tensor: "model.encoder.layers.0.fc1.weight", Edit: func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == "model.encoder.layers.0.fc1.weight" {
					ts[i].Shape = []int{32, 64}
				}
			}
			return ts
		}},
		{Name: "unexpected", Tensor: "model.encoder.layer_norm.weight", Edit: func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "model.encoder.layer_norm.weight", Shape: []int{32}, Data: make([]float32, 32)})
		}},
		{Name: "no embedding", Tensor: "model.shared.weight"},
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

// TestSaveDTypes round-trips F16 and BF16 checkpoints.
func TestSaveDTypes(t *testing.T) {
	m := newRandom(t, smallConfig(t, `,"share_encoder_decoder_embeddings":false,"decoder_vocab_size":40,"tie_word_embeddings":false,"decoder_start_token_id":39`))
	goldentest.CheckSaveDTypes(t, m, Load, configOf, []int{1, 2, 3}, []int{39, 4, 5})
}

func FuzzParseConfig(f *testing.F) {
	goldentest.FuzzConfig(f, ParseConfig, Config.check,
		`{"model_type":"bart"}`,
		`{"model_type":"marian","vocab_size":30,"decoder_vocab_size":20,"share_encoder_decoder_embeddings":false}`,
		`{"model_type":"bart","d_model":16,"encoder_attention_heads":2,"decoder_attention_heads":2,"vocab_size":20,"eos_token_id":[2,3]}`,
		`{"model_type":"marian","activation_function":"swish","normalize_before":true}`,
		`{}`, `null`, `{"model_type":"bart","d_model":1e99}`,
	)
}

// TestTruncate checks that decoding after Truncate equals decoding the
// shorter target from scratch, and that Hidden is the lm_head input.
func TestTruncate(t *testing.T) {
	m := newRandom(t, smallConfig(t, ""))
	goldentest.CheckTruncate(t, underTest(m), tol, func(h []float32) []float32 {
		w, C := m.Weights, m.Config.DModel
		re := make([]float32, m.Config.DecoderVocab)
		for v := range re {
			for i := range C {
				re[v] += h[i] * w.LMHead[v*C+i]
			}
			re[v] += w.FinalLogitsBias[v]
		}
		return re
	})
}

// TestConcurrentDecoders runs decoders of one Model on several goroutines
// (a Model is read-only; run with -race) and checks they agree.
func TestConcurrentDecoders(t *testing.T) {
	goldentest.CheckConcurrentDecoders(t, underTest(newRandom(t, smallConfig(t, ""))))
}
