package bert

import (
	"fmt"
	"slices"
	"strings"
)

// Source provides named float32 tensors, such as an open safetensors file.
type Source interface {
	// Shape returns the shape of the tensor called name and whether it exists.
	Shape(name string) ([]int, bool)
	// Float32 returns the tensor's values, row-major.
	Float32(name string) ([]float32, error)
}

// Layer holds one encoder layer's weights. Linear weights are nn.Linear's
// [out, in]; the query, key and value projections are concatenated along
// the output axis so one matrix product computes all three.
type Layer struct {
	QKVW     []float32 // [3H, H]: query rows, then key rows, then value rows
	QKVB     []float32 // [3H]
	AttnOutW []float32 // [H, H] attention.output.dense
	AttnOutB []float32 // [H]
	AttnLNG  []float32 // [H] attention.output.LayerNorm
	AttnLNB  []float32 // [H]
	InterW   []float32 // [I, H] intermediate.dense
	InterB   []float32 // [I]
	OutW     []float32 // [H, I] output.dense
	OutB     []float32 // [H]
	OutLNG   []float32 // [H] output.LayerNorm
	OutLNB   []float32 // [H]
}

// Weights holds all parameters of a BertModel.
type Weights struct {
	WordEmb []float32 // [V, H] embeddings.word_embeddings
	PosEmb  []float32 // [P, H] embeddings.position_embeddings
	TypeEmb []float32 // [Tv, H] embeddings.token_type_embeddings
	EmbLNG  []float32 // [H] embeddings.LayerNorm
	EmbLNB  []float32 // [H]
	Layers  []Layer
	PoolerW []float32 // [H, H] pooler.dense, nil when the checkpoint has no pooler
	PoolerB []float32 // [H]
}

// loader resolves Hugging Face names against a Source, remembering which
// names it used so that unexpected leftovers can be reported.
type loader struct {
	src    Source
	prefix string // "bert." or ""
	err    error
}

// resolve finds the stored name for an HF name, trying the old gamma/beta
// spelling for LayerNorm parameters.
func (l *loader) resolve(name string) (string, bool) {
	full := l.prefix + name
	if _, ok := l.src.Shape(full); ok {
		return full, true
	}
	if strings.Contains(name, "LayerNorm.") {
		old := strings.Replace(strings.Replace(full, "LayerNorm.weight", "LayerNorm.gamma", 1), "LayerNorm.bias", "LayerNorm.beta", 1)
		if _, ok := l.src.Shape(old); ok {
			return old, true
		}
	}
	return full, false
}

// get returns the tensor name with the expected shape, recording the first
// error.
func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	stored, ok := l.resolve(name)
	if !ok {
		l.err = fmt.Errorf("bert: tensor %q is missing (want shape %v)", stored, shape)
		return nil
	}
	have, _ := l.src.Shape(stored)
	if !slices.Equal(have, shape) {
		l.err = fmt.Errorf("bert: tensor %q has shape %v, want %v", stored, have, shape)
		return nil
	}
	data, err := l.src.Float32(stored)
	if err != nil {
		l.err = fmt.Errorf("bert: tensor %q: %w", stored, err)
		return nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(data) != n {
		l.err = fmt.Errorf("bert: tensor %q holds %d values, want %d for shape %v", stored, len(data), n, shape)
		return nil
	}
	return data
}

// detectPrefix reports whether names carry "bert." (as in BertForMaskedLM
// and most hub checkpoints) or not (as in BertModel state dicts).
func detectPrefix(src Source) string {
	for _, p := range []string{"", "bert."} {
		for _, n := range []string{"embeddings.word_embeddings.weight"} {
			if _, ok := src.Shape(p + n); ok {
				return p
			}
		}
	}
	return ""
}

// LoadWeights reads every BertModel parameter for cfg from src, checking
// presence and shape. The pooler is optional. Query, key and value weights
// are copied into the fused QKV matrices; all other slices are whatever src
// returned (for safetensors, views of the mapped file).
func LoadWeights(cfg Config, src Source) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	l := &loader{src: src, prefix: detectPrefix(src)}
	w := &Weights{
		WordEmb: l.get("embeddings.word_embeddings.weight", cfg.VocabSize, H),
		PosEmb:  l.get("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, H),
		TypeEmb: l.get("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, H),
		EmbLNG:  l.get("embeddings.LayerNorm.weight", H),
		EmbLNB:  l.get("embeddings.LayerNorm.bias", H),
	}
	for i := 0; i < cfg.NumHiddenLayers && l.err == nil; i++ {
		p := fmt.Sprintf("encoder.layer.%d.", i)
		qkvw := make([]float32, 3*H*H)
		qkvb := make([]float32, 3*H)
		for j, m := range []string{"query", "key", "value"} {
			copy(qkvw[j*H*H:], l.get(p+"attention.self."+m+".weight", H, H))
			copy(qkvb[j*H:], l.get(p+"attention.self."+m+".bias", H))
		}
		w.Layers = append(w.Layers, Layer{
			QKVW: qkvw, QKVB: qkvb,
			AttnOutW: l.get(p+"attention.output.dense.weight", H, H),
			AttnOutB: l.get(p+"attention.output.dense.bias", H),
			AttnLNG:  l.get(p+"attention.output.LayerNorm.weight", H),
			AttnLNB:  l.get(p+"attention.output.LayerNorm.bias", H),
			InterW:   l.get(p+"intermediate.dense.weight", I, H),
			InterB:   l.get(p+"intermediate.dense.bias", I),
			OutW:     l.get(p+"output.dense.weight", H, I),
			OutB:     l.get(p+"output.dense.bias", H),
			OutLNG:   l.get(p+"output.LayerNorm.weight", H),
			OutLNB:   l.get(p+"output.LayerNorm.bias", H),
		})
	}
	if l.err != nil {
		return nil, l.err
	}
	if _, ok := l.resolve("pooler.dense.weight"); ok {
		w.PoolerW = l.get("pooler.dense.weight", H, H)
		w.PoolerB = l.get("pooler.dense.bias", H)
		if l.err != nil {
			return nil, l.err
		}
	}
	// A layer beyond num_hidden_layers means config and weights disagree.
	if _, ok := l.resolve(fmt.Sprintf("encoder.layer.%d.attention.self.query.weight", cfg.NumHiddenLayers)); ok {
		return nil, fmt.Errorf("bert: checkpoint has more than num_hidden_layers = %d layers", cfg.NumHiddenLayers)
	}
	return w, nil
}
