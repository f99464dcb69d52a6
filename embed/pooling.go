package embed

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Pooling says how token vectors become one sentence vector. When several
// modes are set their results are concatenated in the order CLS, Max, Mean,
// MeanSqrtLen, as sentence-transformers does.
type Pooling struct {
	CLS         bool // the first token's vector
	Max         bool // element-wise max over attended tokens
	Mean        bool // mean over attended tokens
	MeanSqrtLen bool // sum over attended tokens divided by sqrt(count)
}

// Modes is the number of modes set.
func (p Pooling) Modes() int {
	n := 0
	for _, b := range []bool{p.CLS, p.Max, p.Mean, p.MeanSqrtLen} {
		if b {
			n++
		}
	}
	return n
}

// String names the modes, e.g. "mean" or "cls+mean".
func (p Pooling) String() string {
	var s []string
	if p.CLS {
		s = append(s, "cls")
	}
	if p.Max {
		s = append(s, "max")
	}
	if p.Mean {
		s = append(s, "mean")
	}
	if p.MeanSqrtLen {
		s = append(s, "mean_sqrt_len")
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "+")
}

// poolingConfig is 1_Pooling/config.json.
type poolingConfig struct {
	WordEmbeddingDimension int    `json:"word_embedding_dimension"`
	PoolingMode            string `json:"pooling_mode"`
	CLS                    bool   `json:"pooling_mode_cls_token"`
	Max                    bool   `json:"pooling_mode_max_tokens"`
	Mean                   bool   `json:"pooling_mode_mean_tokens"`
	MeanSqrtLen            bool   `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMean           bool   `json:"pooling_mode_weightedmean_tokens"`
	LastToken              bool   `json:"pooling_mode_lasttoken"`
	IncludePrompt          *bool  `json:"include_prompt"`
}

// ParsePoolingConfig decodes a sentence-transformers Pooling config.json and
// returns the pooling and the word_embedding_dimension it declares (0 if
// absent).
func ParsePoolingConfig(b []byte) (Pooling, int, error) {
	var c poolingConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return Pooling{}, 0, fmt.Errorf("pooling config: %w", err)
	}
	p := Pooling{CLS: c.CLS, Max: c.Max, Mean: c.Mean, MeanSqrtLen: c.MeanSqrtLen}
	switch c.PoolingMode {
	case "":
	case "mean":
		p = Pooling{Mean: true}
	case "cls":
		p = Pooling{CLS: true}
	case "max":
		p = Pooling{Max: true}
	case "mean_sqrt_len_tokens":
		p = Pooling{MeanSqrtLen: true}
	default:
		return Pooling{}, 0, fmt.Errorf("pooling config: pooling_mode %q is not supported (want mean, cls, max or mean_sqrt_len_tokens)", c.PoolingMode)
	}
	if c.WeightedMean {
		return Pooling{}, 0, fmt.Errorf("pooling config: pooling_mode_weightedmean_tokens is not supported")
	}
	if c.LastToken {
		return Pooling{}, 0, fmt.Errorf("pooling config: pooling_mode_lasttoken is not supported")
	}
	if p.Modes() == 0 {
		return Pooling{}, 0, fmt.Errorf("pooling config: no pooling mode is enabled")
	}
	if c.WordEmbeddingDimension < 0 {
		return Pooling{}, 0, fmt.Errorf("pooling config: word_embedding_dimension = %d", c.WordEmbeddingDimension)
	}
	return p, c.WordEmbeddingDimension, nil
}

// Pool reduces token vectors to sentence vectors. hidden is [B, T, H]
// row-major, mask is [B, T] (1 for attended tokens); dst[b] receives
// H*p.Modes() values.
func Pool(p Pooling, hidden, mask []float32, B, T, H int, dst [][]float32) {
	for b := 0; b < B; b++ {
		out := dst[b][:0]
		tok := func(t int) []float32 { return hidden[(b*T+t)*H : (b*T+t+1)*H] }
		msk := mask[b*T : (b+1)*T]
		if p.CLS {
			out = append(out, tok(0)...)
		}
		if p.Max {
			start := len(out)
			for i := 0; i < H; i++ {
				out = append(out, -1e9) // sentence-transformers' fill for padding
			}
			mx := out[start:]
			for t := 0; t < T; t++ {
				v := tok(t)
				for i := range mx {
					x := v[i]
					if msk[t] == 0 {
						x = -1e9
					}
					if x > mx[i] {
						mx[i] = x
					}
				}
			}
		}
		if p.Mean || p.MeanSqrtLen {
			sum := make([]float64, H)
			var n float64
			for t := 0; t < T; t++ {
				if msk[t] == 0 {
					continue
				}
				n += float64(msk[t])
				for i, x := range tok(t) {
					sum[i] += float64(x) * float64(msk[t])
				}
			}
			n = math.Max(n, 1e-9)
			if p.Mean {
				for _, s := range sum {
					out = append(out, float32(s/n))
				}
			}
			if p.MeanSqrtLen {
				r := math.Sqrt(n)
				for _, s := range sum {
					out = append(out, float32(s/r))
				}
			}
		}
		dst[b] = out
	}
}

// Normalize scales v to unit L2 norm in place, dividing by max(‖v‖, 1e-12)
// like torch.nn.functional.normalize.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Max(math.Sqrt(s), 1e-12)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
}
