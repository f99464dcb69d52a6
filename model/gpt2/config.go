package gpt2

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/internal/hfckpt"
)

// Config is a GPT-2 hyper-parameter set, read from a Hugging Face config.json.
type Config struct {
	NLayer       int     // number of blocks (n_layer)
	NHead        int     // attention heads per block (n_head)
	NEmbd        int     // width C of the residual stream (n_embd)
	NPositions   int     // context length: rows of wpe (n_positions, or n_ctx)
	VocabSize    int     // rows of wte (vocab_size)
	LayerNormEps float32 // layer_norm_epsilon, 1e-5 for every released GPT-2
	// Activation is the MLP non-linearity: "gelu_new" (the tanh
	// approximation GPT-2 was trained with; "gelu_pytorch_tanh" and
	// "gelu_fast" are the same function) or "gelu" (the exact erf form).
	Activation string
	EOSTokenID int // eos_token_id, -1 when absent
	BOSTokenID int // bos_token_id, -1 when absent
	// Quantization is the precision a loupe quantize directory stores its
	// weights in (Int8, BF16 or F16: config.json's quantization_config with
	// quant_method "loupe", see SaveQuantized), "" for a float checkpoint.
	Quantization string
}

// HeadDim is the width of one attention head, C / nh.
func (c Config) HeadDim() int { return c.NEmbd / c.NHead }

// hfConfig mirrors the config.json fields loupe reads.
type hfConfig struct {
	ModelType          string   `json:"model_type"`
	Architectures      []string `json:"architectures"`
	NLayer             *int     `json:"n_layer"`
	NHead              *int     `json:"n_head"`
	NEmbd              *int     `json:"n_embd"`
	NPositions         *int     `json:"n_positions"`
	NCtx               *int     `json:"n_ctx"`
	VocabSize          *int     `json:"vocab_size"`
	LayerNormEpsilon   *float64 `json:"layer_norm_epsilon"`
	ActivationFunction *string  `json:"activation_function"`
	EOSTokenID         any      `json:"eos_token_id"`
	BOSTokenID         any      `json:"bos_token_id"`
	ScaleAttnWeights   *bool    `json:"scale_attn_weights"`
	ScaleByLayerIdx    bool     `json:"scale_attn_by_inverse_layer_idx"`
	AddCrossAttention  bool     `json:"add_cross_attention"`
	NInner             *int     `json:"n_inner"`
	QuantizationConfig *struct {
		QuantMethod   string `json:"quant_method"`
		Precision     string `json:"precision"`
		FormatVersion *int   `json:"format_version"`
	} `json:"quantization_config"`
}

// gpt2Architectures are the config.json "architectures" entries whose
// weights Load understands.
var gpt2Architectures = []string{"GPT2LMHeadModel", "GPT2Model", "GPT2DoubleHeadsModel", "GPT2ForSequenceClassification", "GPT2ForTokenClassification"}

// LoadConfig reads and checks a Hugging Face GPT-2 config.json.
func LoadConfig(path string) (Config, error) {
	return hfckpt.ReadConfig("gpt2", path, ParseConfig)
}

// ParseConfig parses the contents of a GPT-2 config.json. Errors name the
// field at fault and start with "config.json:".
func ParseConfig(b []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	switch {
	case h.ModelType != "" && h.ModelType != "gpt2":
		return Config{}, fmt.Errorf("config.json: model_type %q is not gpt2", h.ModelType)
	case h.ModelType == "" && len(h.Architectures) == 0:
		return Config{}, errors.New("config.json: no model_type or architectures: cannot tell it is a gpt2 model")
	}
	for _, a := range h.Architectures {
		if !slices.Contains(gpt2Architectures, a) {
			return Config{}, fmt.Errorf("config.json: architecture %q is not a GPT-2 architecture", a)
		}
	}
	c := Config{LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}
	need := func(name string, p *int, dst *int) error {
		if p == nil {
			return fmt.Errorf("config.json: missing %s", name)
		}
		if *p <= 0 {
			return fmt.Errorf("config.json: %s = %d, want a positive integer", name, *p)
		}
		*dst = *p
		return nil
	}
	if h.NPositions == nil {
		h.NPositions = h.NCtx
	}
	for _, f := range []struct {
		name string
		p    *int
		dst  *int
	}{
		{"n_layer", h.NLayer, &c.NLayer}, {"n_head", h.NHead, &c.NHead}, {"n_embd", h.NEmbd, &c.NEmbd},
		{"n_positions", h.NPositions, &c.NPositions}, {"vocab_size", h.VocabSize, &c.VocabSize},
	} {
		if err := need(f.name, f.p, f.dst); err != nil {
			return Config{}, err
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return Config{}, fmt.Errorf("config.json: n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
	}
	if h.LayerNormEpsilon != nil {
		if !(*h.LayerNormEpsilon >= 0 && *h.LayerNormEpsilon < 1) {
			return Config{}, fmt.Errorf("config.json: layer_norm_epsilon = %g, want a small non-negative number", *h.LayerNormEpsilon)
		}
		c.LayerNormEps = float32(*h.LayerNormEpsilon)
	}
	if h.ActivationFunction != nil {
		switch a := *h.ActivationFunction; a {
		case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
			c.Activation = "gelu_new"
		case "gelu":
			c.Activation = "gelu"
		default:
			return Config{}, fmt.Errorf("config.json: activation_function %q is not supported (want gelu_new, gelu_pytorch_tanh, gelu_fast or gelu)", a)
		}
	}
	if h.ScaleAttnWeights != nil && !*h.ScaleAttnWeights {
		return Config{}, errors.New("config.json: scale_attn_weights false is not supported")
	}
	if h.ScaleByLayerIdx {
		return Config{}, errors.New("config.json: scale_attn_by_inverse_layer_idx is not supported")
	}
	if h.AddCrossAttention {
		return Config{}, errors.New("config.json: add_cross_attention is not supported")
	}
	if h.NInner != nil && *h.NInner != 4*c.NEmbd {
		return Config{}, fmt.Errorf("config.json: n_inner %d is not supported (want null or 4*n_embd = %d)", *h.NInner, 4*c.NEmbd)
	}
	var err error
	if c.EOSTokenID, err = hfckpt.TokenID("eos_token_id", h.EOSTokenID, c.VocabSize); err != nil {
		return Config{}, err
	}
	if c.BOSTokenID, err = hfckpt.TokenID("bos_token_id", h.BOSTokenID, c.VocabSize); err != nil {
		return Config{}, err
	}
	if q := h.QuantizationConfig; q != nil {
		if c.Quantization, err = parseQuantizationConfig(q.QuantMethod, q.Precision, q.FormatVersion); err != nil {
			return Config{}, err
		}
	}
	if err := c.check(); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

// parseQuantizationConfig checks config.json's quantization_config: loupe
// reads its own (quant_method "loupe", a precision it knows, format
// version QuantizedFormatVersion) and no other method's.
func parseQuantizationConfig(method, precision string, version *int) (string, error) {
	if method != QuantMethod {
		return "", fmt.Errorf("config.json: quantization_config.quant_method %q: loupe reads float32, float16 and bfloat16 checkpoints and the directories loupe quantize writes (quant_method %q), not other quantized formats", method, QuantMethod)
	}
	if version == nil || *version != QuantizedFormatVersion {
		v := "missing"
		if version != nil {
			v = strconv.Itoa(*version)
		}
		return "", fmt.Errorf("config.json: quantization_config.format_version %s, want %d (written by another loupe version? quantize the float32 checkpoint again)", v, QuantizedFormatVersion)
	}
	switch precision {
	case Int8, BF16, F16:
		return precision, nil
	}
	return "", fmt.Errorf("config.json: quantization_config.precision %q, want %s, %s or %s", precision, Int8, BF16, F16)
}

// ParseConfigSpec builds a Config for training from scratch from spec: the
// path of a config.json, or a list of key=value pairs with config.json's
// keys ("n_layer=4,n_embd=256,n_head=4,n_ctx=256"; n_ctx stands for
// n_positions). vocab > 0 sets vocab_size (a tokenizer's); eos >= 0 sets
// bos_token_id and eos_token_id. The result is checked as ParseConfig
// checks a file.
func ParseConfigSpec(spec string, vocab, eos int) (Config, error) {
	m := map[string]any{}
	if b, err := os.ReadFile(spec); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return Config{}, fmt.Errorf("%s: %w", spec, err)
		}
	} else if strings.Contains(spec, "=") {
		for _, kv := range strings.Split(spec, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok {
				return Config{}, fmt.Errorf("%q is not key=value", kv)
			}
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = n
			} else {
				m[k] = v
			}
		}
	} else {
		return Config{}, err
	}
	if _, ok := m["n_positions"]; !ok {
		if v, ok := m["n_ctx"]; ok {
			m["n_positions"] = v
		}
	}
	if vocab > 0 {
		m["vocab_size"] = vocab
	}
	if eos >= 0 {
		m["bos_token_id"], m["eos_token_id"] = eos, eos
	}
	m["model_type"] = "gpt2"
	delete(m, "quantization_config") // a fresh model is float32
	b, err := json.Marshal(m)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(b)
}
