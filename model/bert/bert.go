package bert

import (
	"fmt"
	"io"
)

// Model is a BERT encoder with its weights and reusable activation buffers.
// It is not safe for concurrent use (see the package documentation).
type Model struct {
	Config  Config
	Weights *Weights

	closer io.Closer // the mapped weights file, if any
	buf    buffers
	act    Activation // reused for hooks

	precision string   // Float32, Int8 or Int7 (see Quantize)
	quant     []qLayer // per layer, nil for float32
}

// buffers are the activations of one forward pass, grown on demand and
// reused across calls. N = B*T rows.
type buffers struct {
	x      []float32 // [N, H] the residual stream
	qkv    []float32 // [N, 3H]
	ctx    []float32 // [N, H] attention output before attention.output.dense
	tmp    []float32 // [N, H]
	inter  []float32 // [N, I]
	mask   []float32 // [B, T] 1 for attended tokens, 0 for padding
	pooled []float32 // [B, H]
	first  []float32 // [B, H] the [CLS] rows
	probs  []float32 // [B, nh, T, T] attention probabilities, only with a hook
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// New builds a Model from a configuration and weights already loaded.
func New(cfg Config, w *Weights) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if w == nil || len(w.Layers) != cfg.NumHiddenLayers {
		return nil, fmt.Errorf("bert: weights do not match num_hidden_layers = %d", cfg.NumHiddenLayers)
	}
	return &Model{Config: cfg, Weights: w}, nil
}

// FromSource loads the weights for cfg from src (see LoadWeights).
func FromSource(cfg Config, src Source) (*Model, error) {
	w, err := LoadWeights(cfg, src)
	if err != nil {
		return nil, err
	}
	return New(cfg, w)
}

// Close releases the mapped weights file, if the model was loaded from one.
// The Model must not be used afterwards.
func (m *Model) Close() error {
	if m.closer == nil {
		return nil
	}
	c := m.closer
	m.closer = nil
	return c.Close()
}

// Input is a batch of token sequences. Sequences may have different lengths:
// they are padded on the right to the longest, and padding is masked out.
type Input struct {
	IDs [][]int // token ids per sequence, each non-empty
	// TypeIDs are token type (segment) ids, same lengths as IDs; nil means 0.
	TypeIDs [][]int
	// Mask is the attention mask, same lengths as IDs (1 = attend, 0 = do
	// not attend); nil means every given token is attended.
	Mask [][]int
	// Hook, if not nil, is called at every hook point (see Activation).
	Hook Hook
}

// Output is the result of a forward pass. Its slices are owned by the Model
// and valid until the next Forward call.
type Output struct {
	Batch, SeqLen, HiddenSize int // B, T (the longest sequence), H
	// LastHidden is last_hidden_state, [B, T, H] row-major. Rows at padded
	// positions hold values as Hugging Face computes them; ignore them.
	LastHidden []float32
	// Mask is the attention mask as floats, [B, T]: 1 for attended tokens.
	Mask []float32
	// Pooled is the pooler output tanh(dense(h[:, 0])), [B, H], or nil when
	// the checkpoint has no pooler.
	Pooled []float32
}

// Forward runs the encoder on a batch.
func (m *Model) Forward(in Input) (*Output, error) {
	cfg := m.Config
	B := len(in.IDs)
	if B == 0 {
		return nil, fmt.Errorf("bert: empty batch")
	}
	if in.TypeIDs != nil && len(in.TypeIDs) != B {
		return nil, fmt.Errorf("bert: %d type id sequences for %d sequences", len(in.TypeIDs), B)
	}
	if in.Mask != nil && len(in.Mask) != B {
		return nil, fmt.Errorf("bert: %d attention masks for %d sequences", len(in.Mask), B)
	}
	T := 0
	for b, ids := range in.IDs {
		if len(ids) == 0 {
			return nil, fmt.Errorf("bert: sequence %d is empty", b)
		}
		if len(ids) > cfg.MaxPositionEmbeddings {
			return nil, fmt.Errorf("bert: sequence %d has %d tokens, more than max_position_embeddings = %d", b, len(ids), cfg.MaxPositionEmbeddings)
		}
		if in.TypeIDs != nil && len(in.TypeIDs[b]) != len(ids) {
			return nil, fmt.Errorf("bert: sequence %d has %d tokens but %d type ids", b, len(ids), len(in.TypeIDs[b]))
		}
		if in.Mask != nil && len(in.Mask[b]) != len(ids) {
			return nil, fmt.Errorf("bert: sequence %d has %d tokens but a mask of %d", b, len(ids), len(in.Mask[b]))
		}
		for t, id := range ids {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("bert: sequence %d position %d: token id %d out of range [0, %d)", b, t, id, cfg.VocabSize)
			}
			if in.TypeIDs != nil {
				if tt := in.TypeIDs[b][t]; tt < 0 || tt >= cfg.TypeVocabSize {
					return nil, fmt.Errorf("bert: sequence %d position %d: token type id %d out of range [0, %d)", b, t, tt, cfg.TypeVocabSize)
				}
			}
		}
		T = max(T, len(ids))
	}
	H, I, N := cfg.HiddenSize, cfg.IntermediateSize, B*T
	bf := &m.buf
	bf.x = grow(bf.x, N*H)
	bf.qkv = grow(bf.qkv, N*3*H)
	bf.ctx = grow(bf.ctx, N*H)
	bf.tmp = grow(bf.tmp, N*H)
	bf.inter = grow(bf.inter, N*I)
	bf.mask = grow(bf.mask, N)

	for b, ids := range in.IDs {
		for t := 0; t < T; t++ {
			v := float32(0)
			if t < len(ids) && (in.Mask == nil || in.Mask[b][t] != 0) {
				v = 1
			}
			bf.mask[b*T+t] = v
		}
	}
	m.embed(in, B, T)
	if in.Hook != nil {
		m.callHook(in.Hook, &in, "embeddings", -1, bf.x, B, T, H)
	}
	for l := range m.Weights.Layers {
		m.layer(&m.Weights.Layers[l], &in, l, B, T)
	}
	return m.finish(B, T), nil
}
