package clip

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
)

// Source provides named float32 tensors, such as an open checkpoint.
type Source interface {
	// Shape returns the shape of the tensor called name and whether it exists.
	Shape(name string) ([]int, bool)
	// Float32 returns the tensor's values, row-major.
	Float32(name string) ([]float32, error)
}

// Layer holds one encoder layer's weights. Linear weights are nn.Linear's
// [out, in]; q, k and v are concatenated along the output axis. Loaded from
// an F16 or BF16 checkpoint, the four matrices QKVW, OutW, FC1W and FC2W
// are nil: they stay in the mapped file in their stored precision and are
// converted one layer at a time while Encode runs (Model.Precision).
type Layer struct {
	LN1G, LN1B []float32 // layer_norm1 [H]
	QKVW       []float32 // [3H, H]: q_proj rows, then k_proj, then v_proj
	QKVB       []float32 // [3H]
	OutW       []float32 // self_attn.out_proj [H, H]
	OutB       []float32 // [H]
	LN2G, LN2B []float32 // layer_norm2 [H]
	FC1W       []float32 // mlp.fc1 [I, H]
	FC1B       []float32 // [I]
	FC2W       []float32 // mlp.fc2 [H, I]
	FC2B       []float32 // [H]

	half *halfLayer // the matrices in stored precision, or nil
}

// Weights holds all parameters of a CLIPTextModel. From an F16 or BF16
// checkpoint, TokenEmb is nil too: Encode converts the rows it looks up.
type Weights struct {
	TokenEmb   []float32 // [V, H] embeddings.token_embedding
	PosEmb     []float32 // [P, H] embeddings.position_embedding
	Layers     []Layer
	FinalLNG   []float32 // [H] final_layer_norm
	FinalLNB   []float32 // [H]
	namePrefix string
	tokenHalf  *halfMat // TokenEmb in stored precision, or nil
	precision  string   // "F32", or the stored "F16"/"BF16" of the matrices
}

type loader struct {
	src    Source
	prefix string
	used   map[string]bool
	err    error
}

func (l *loader) get(name string, shape ...int) []float32 {
	if l.err != nil {
		return nil
	}
	full := l.prefix + name
	have, ok := l.src.Shape(full)
	if !ok {
		l.err = fmt.Errorf("clip: tensor %q is missing (want shape %v)", full, shape)
		return nil
	}
	if !slices.Equal(have, shape) {
		l.err = fmt.Errorf("clip: tensor %q has shape %v, want %v", full, have, shape)
		return nil
	}
	data, err := l.src.Float32(full)
	if err != nil {
		l.err = fmt.Errorf("clip: tensor %q: %w", full, err)
		return nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(data) != n {
		l.err = fmt.Errorf("clip: tensor %q holds %d values, want %d for shape %v", full, len(data), n, shape)
		return nil
	}
	l.used[full] = true
	return data
}

// LoadWeights reads every CLIPTextModel parameter for cfg from src,
// checking presence and shape. Names may carry "text_model." (CLIPTextModel,
// CLIPModel) or not (a bare CLIPTextTransformer state dict).
func LoadWeights(cfg Config, src Source) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	l := &loader{src: src, prefix: "text_model.", used: map[string]bool{}}
	if _, ok := src.Shape("text_model.embeddings.token_embedding.weight"); !ok {
		if _, ok := src.Shape("embeddings.token_embedding.weight"); ok {
			l.prefix = ""
		}
	}
	w := &Weights{
		PosEmb:     l.get("embeddings.position_embedding.weight", cfg.MaxPositionEmbeddings, H),
		namePrefix: l.prefix,
		precision:  "F32",
	}
	if h, ok := l.getHalf("embeddings.token_embedding.weight", cfg.VocabSize, H); ok {
		w.tokenHalf = &h
	} else {
		w.TokenEmb = l.get("embeddings.token_embedding.weight", cfg.VocabSize, H)
	}
	for i := 0; i < cfg.NumHiddenLayers && l.err == nil; i++ {
		p := "encoder.layers." + strconv.Itoa(i) + "."
		L := Layer{
			LN1G: l.get(p+"layer_norm1.weight", H), LN1B: l.get(p+"layer_norm1.bias", H),
			OutB: l.get(p+"self_attn.out_proj.bias", H),
			LN2G: l.get(p+"layer_norm2.weight", H), LN2B: l.get(p+"layer_norm2.bias", H),
			FC1B: l.get(p+"mlp.fc1.bias", I), FC2B: l.get(p+"mlp.fc2.bias", H),
		}
		L.QKVB = make([]float32, 3*H)
		for j, m := range []string{"q_proj", "k_proj", "v_proj"} {
			copy(L.QKVB[j*H:], l.get(p+"self_attn."+m+".bias", H))
		}
		if h, ok := loadHalfLayer(l, p, H, I); ok {
			L.half = h
			w.precision = h.q.dtype
		} else {
			L.QKVW = make([]float32, 3*H*H)
			for j, m := range []string{"q_proj", "k_proj", "v_proj"} {
				copy(L.QKVW[j*H*H:], l.get(p+"self_attn."+m+".weight", H, H))
			}
			L.OutW = l.get(p+"self_attn.out_proj.weight", H, H)
			L.FC1W = l.get(p+"mlp.fc1.weight", I, H)
			L.FC2W = l.get(p+"mlp.fc2.weight", H, I)
		}
		w.Layers = append(w.Layers, L)
	}
	w.FinalLNG = l.get("final_layer_norm.weight", H)
	w.FinalLNB = l.get("final_layer_norm.bias", H)
	if l.err != nil {
		return nil, l.err
	}
	if n, ok := src.(interface{ Names() []string }); ok {
		for _, name := range n.Names() {
			if l.used[name] || ignored(name, l.prefix) {
				continue
			}
			return nil, fmt.Errorf("clip: unexpected tensor %q (config.json has num_hidden_layers %d)", name, cfg.NumHiddenLayers)
		}
	}
	return w, nil
}

// loadHalfLayer keeps a layer's matrices in stored precision when all six
// are F16 or BF16 and src can hand them out; otherwise it takes none, and
// the caller loads float32.
func loadHalfLayer(l *loader, p string, H, I int) (*halfLayer, bool) {
	hs, ok := l.src.(halfSource)
	if !ok {
		return nil, false
	}
	names := []string{"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.out_proj.weight", "mlp.fc1.weight", "mlp.fc2.weight"}
	for _, n := range names {
		if _, _, ok := hs.Half(l.prefix + p + n); !ok {
			return nil, false
		}
	}
	h := &halfLayer{}
	h.q, _ = l.getHalf(p+names[0], H, H)
	h.k, _ = l.getHalf(p+names[1], H, H)
	h.v, _ = l.getHalf(p+names[2], H, H)
	h.out, _ = l.getHalf(p+names[3], H, H)
	h.fc1, _ = l.getHalf(p+names[4], I, H)
	h.fc2, _ = l.getHalf(p+names[5], H, I)
	return h, true
}

// Precision returns "F32" when the matrices are float32 in memory, or the
// stored "F16" or "BF16" they are kept in and converted from per layer.
func (m *Model) Precision() string { return m.Weights.precision }

// ignored reports whether a stored tensor is outside the text encoder or a
// known extra: the vision tower, projections, logit_scale, position_ids.
func ignored(name, prefix string) bool {
	if prefix != "" && !strings.HasPrefix(name, prefix) {
		return true
	}
	return strings.HasSuffix(name, "embeddings.position_ids") ||
		strings.HasPrefix(name, "vision_model.") || strings.HasPrefix(name, "visual_projection") ||
		strings.HasPrefix(name, "text_projection") || name == "logit_scale"
}

// Model is a CLIP text encoder. It is read-only once loaded and safe for
// concurrent use.
type Model struct {
	Config  Config
	Weights Weights
	closer  interface{ Close() error }
}

// Trim gives the resident pages of the mapped weights back to the
// operating system; they are read again (from the page cache) when the
// model next runs. A diffusion pipeline trims the text encoder once the
// prompt is encoded.
func (m *Model) Trim() error {
	if e, ok := m.closer.(interface{ Evict() error }); ok {
		return e.Evict()
	}
	return nil
}

// Close releases the mapped weights files; the model must not be used
// afterwards.
func (m *Model) Close() error {
	if m.closer == nil {
		return nil
	}
	err := m.closer.Close()
	m.closer = nil
	return err
}

// FromSource builds a model from a configuration and tensors.
func FromSource(cfg Config, src Source) (*Model, error) {
	w, err := LoadWeights(cfg, src)
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Weights: *w}, nil
}

type ckptSource struct{ c *checkpoint.Checkpoint }

func (s ckptSource) Shape(name string) ([]int, bool) {
	info, ok := s.c.Info(name)
	return info.Shape, ok
}
func (s ckptSource) Float32(name string) ([]float32, error) { return s.c.Float32(name) }
func (s ckptSource) Names() []string                        { return s.c.Names() }

// Load reads a text encoder directory (a diffusers pipeline's
// text_encoder/): config.json and the weights (model.safetensors, its
// fp16 variant model.fp16.safetensors, shards, or pytorch_model.bin).
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c, err := checkpoint.Open(dir)
	if errors.Is(err, checkpoint.ErrNoWeights) {
		for _, variant := range []string{"model.fp16.safetensors", "model.bf16.safetensors"} {
			p := filepath.Join(dir, variant)
			if _, statErr := os.Stat(p); statErr == nil {
				c, err = checkpoint.OpenFile(p)
				break
			}
		}
	}
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("clip: %s: no model.safetensors, model.fp16.safetensors, shards or pytorch_model.bin", dir)
		}
		return nil, fmt.Errorf("clip: %w", err)
	}
	m, err := FromSource(cfg, ckptSource{c})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (in %s)", err, c.Path())
	}
	m.closer = c
	return m, nil
}
