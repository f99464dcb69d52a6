package embed

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/model/bert"
	"github.com/loupe-ml/loupe/model/t5"
)

// DefaultBatchSize is the number of texts run through the encoder at once.
const DefaultBatchSize = 32

// DefaultModel is a small, widely used sentence-transformers model (384
// dimensions), for callers that let users leave the model out.
const DefaultModel = "sentence-transformers/all-MiniLM-L6-v2"

// Options control Load. The zero value is ready to use.
type Options struct {
	// BatchSize is the number of texts per forward pass (default 32).
	BatchSize int
	// MaxSeqLength overrides max_seq_length (tokens, [CLS] and [SEP] or
	// T5's </s> included); 0 keeps the model's. For a WordEmbeddings model, which
	// sentence-transformers never truncates, a value > 0 keeps the first
	// that many known words of each text.
	MaxSeqLength int
	// Client resolves hub ids; nil means hub.NewClient().
	Client *hub.Client
	// Warn receives warnings (truncated texts, defaulted pooling); nil
	// writes them to standard error prefixed with "embed: warning: ".
	Warn func(msg string)
	// Progress, if set, is called after each batch with the number of texts
	// embedded so far and the total of the current Embed call.
	Progress func(done, total int)
	// Quantize is the compute precision of the encoder's linear layers: ""
	// or "float32" (the default), "int8" (dynamic quantization as
	// torch.ao.quantization.quantize_dynamic does for nn.Linear: int8
	// weights per output channel, each token's activations quantized at run
	// time, int32 sums) or "int7" (the same with 7-bit weights: faster, a
	// little less precise). See bert.Model.Quantize. This is the precision
	// of the computation, not sentence-transformers' precision= output
	// quantization: the embeddings are float32 vectors either way.
	Quantize string
}

// textEncoder is the tokenizer as this package needs it.
type textEncoder interface {
	encode(text string, maxLen int) (ids, typeIDs []int, truncated bool)
}

// Model embeds texts. Its methods are safe for concurrent use.
type Model struct {
	name      string
	dir       string
	bert      *bert.Model     // nil for a WordEmbeddings or T5 model
	t5        *t5.Model       // a sentence-T5 encoder; nil otherwise
	dense     []*dense        // Dense modules after Pooling, in order
	words     *wordEmbeddings // nil for a transformer
	tok       textEncoder
	pooling   Pooling
	normalize bool
	lower     bool // sentence_bert_config do_lower_case
	maxLen    int
	opts      Options

	mu     sync.Mutex
	closed bool
}

// Load loads a sentence-transformers model or a plain BERT model from a hub
// id or a local directory, with default Options.
func Load(ctx context.Context, ref string) (*Model, error) {
	return LoadWith(ctx, ref, Options{})
}

// Name returns the reference the model was loaded from (a hub id or a
// directory), to be recorded next to the vectors it made.
func (m *Model) Name() string { return m.name }

// Dir returns the local directory holding the model files.
func (m *Model) Dir() string { return m.dir }

// Dim returns the length of the embeddings.
func (m *Model) Dim() int {
	if len(m.dense) > 0 {
		return m.dense[len(m.dense)-1].out
	}
	return m.pooledDim()
}

// pooledDim is the length of the Pooling module's output.
func (m *Model) pooledDim() int {
	switch {
	case m.words != nil:
		return m.words.dim * m.pooling.Modes()
	case m.t5 != nil:
		return m.t5.Config.DModel * m.pooling.Modes()
	}
	return m.bert.Config.HiddenSize * m.pooling.Modes()
}

// hiddenSize is the width of the transformer's token vectors.
func (m *Model) hiddenSize() int {
	if m.t5 != nil {
		return m.t5.Config.DModel
	}
	return m.bert.Config.HiddenSize
}

// Pooling returns the pooling in use.
func (m *Model) Pooling() Pooling { return m.pooling }

// Precision is the compute precision of the encoder's linear layers:
// "float32", "int8" or "int7" (see Options.Quantize).
func (m *Model) Precision() string {
	if m.bert == nil {
		return "float32"
	}
	if p := m.bert.Precision(); p != bert.Float32 {
		return p
	}
	return "float32"
}

// Normalized reports whether embeddings are L2-normalised.
func (m *Model) Normalized() bool { return m.normalize }

// MaxSeqLength returns the token limit texts are truncated to. For a
// WordEmbeddings model it is the max_seq_length of its config, which
// sentence-transformers does not apply (see Options.MaxSeqLength).
func (m *Model) MaxSeqLength() int { return m.maxLen }

// Close releases the model's mapped weights; Embed fails afterwards.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if m.words != nil {
		return m.words.close()
	}
	if m.t5 != nil {
		return m.t5.Close()
	}
	return m.bert.Close()
}

func (m *Model) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if m.opts.Warn != nil {
		m.opts.Warn(msg)
		return
	}
	fmt.Fprintln(os.Stderr, "embed: warning: "+msg)
}

// Embed returns one embedding per text, in order. Texts longer than
// MaxSeqLength tokens are truncated (one warning per call says how many).
func (m *Model) Embed(texts []string) ([][]float32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("embed: %s: model is closed", m.name)
	}
	if m.words != nil {
		return m.embedWords(texts)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	ids := make([][]int, len(texts))
	types := make([][]int, len(texts))
	truncated := 0
	for i, s := range texts {
		if m.lower {
			s = strings.ToLower(s)
		}
		var tr bool
		ids[i], types[i], tr = m.tok.encode(s, m.maxLen)
		if tr {
			truncated++
		}
		if len(ids[i]) == 0 {
			return nil, fmt.Errorf("embed: text %d encodes to no tokens", i)
		}
	}
	if truncated > 0 {
		m.warn("%d of %d texts were longer than max_seq_length %d tokens and were truncated", truncated, len(texts), m.maxLen)
	}
	// Longest first, so each batch holds similar lengths.
	order := make([]int, len(texts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(ids[order[a]]) > len(ids[order[b]]) })

	bs := m.opts.BatchSize
	if bs <= 0 {
		bs = DefaultBatchSize
	}
	dim := m.pooledDim()
	flat := make([]float32, len(texts)*dim)
	bIDs := make([][]int, 0, bs)
	bTypes := make([][]int, 0, bs)
	dst := make([][]float32, bs)
	for lo := 0; lo < len(order); lo += bs {
		hi := min(lo+bs, len(order))
		bIDs, bTypes = bIDs[:0], bTypes[:0]
		for _, i := range order[lo:hi] {
			bIDs = append(bIDs, ids[i])
			bTypes = append(bTypes, types[i])
		}
		for j, i := range order[lo:hi] {
			dst[j] = flat[i*dim : i*dim : (i+1)*dim]
		}
		if m.t5 != nil {
			hidden, mask, T, H, err := m.encodeT5(bIDs)
			if err != nil {
				return nil, err
			}
			Pool(m.pooling, hidden, mask, hi-lo, T, H, dst[:hi-lo])
		} else {
			res, err := m.bert.Forward(bert.Input{IDs: bIDs, TypeIDs: bTypes})
			if err != nil {
				return nil, fmt.Errorf("embed: %w", err)
			}
			Pool(m.pooling, res.LastHidden, res.Mask, res.Batch, res.SeqLen, res.HiddenSize, dst[:hi-lo])
		}
		for j, i := range order[lo:hi] {
			v := dst[j]
			for _, d := range m.dense {
				v = d.apply(v)
			}
			if m.normalize {
				Normalize(v)
			}
			out[i] = v
		}
		if m.opts.Progress != nil {
			m.opts.Progress(hi, len(texts))
		}
	}
	return out, nil
}
