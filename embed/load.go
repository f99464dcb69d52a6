package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/model/bert"
	"github.com/loupe-ml/loupe/tokenizer"
)

// module is one entry of modules.json.
type module struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// pipeline is what modules.json describes, reduced to what we run.
type pipeline struct {
	transformerPath string   // directory of the BERT files, relative to the repo
	words           bool     // the first module is WordEmbeddings at transformerPath
	poolingPath     string   // directory of the Pooling config.json; "" = none listed
	densePaths      []string // Dense modules after Pooling, in order
	normalize       bool
}

// parseModules reads modules.json bytes.
func parseModules(b []byte) (pipeline, error) {
	var mods []module
	if err := json.Unmarshal(b, &mods); err != nil {
		return pipeline{}, fmt.Errorf("modules.json: %w", err)
	}
	var p pipeline
	seenT, seenP := false, false
	for i, m := range mods {
		clean := path.Clean("/" + m.Path)[1:] // no escaping the repository
		switch m.Type {
		case "sentence_transformers.models.Transformer", "sentence_transformers.models.transformer.Transformer":
			if seenT || i != 0 {
				return pipeline{}, fmt.Errorf("modules.json: the Transformer module must come first, once (entry %d)", i)
			}
			seenT, p.transformerPath = true, clean
		case "sentence_transformers.models.WordEmbeddings", "sentence_transformers.models.WordEmbeddings.WordEmbeddings":
			if seenT || i != 0 {
				return pipeline{}, fmt.Errorf("modules.json: the WordEmbeddings module must come first, once (entry %d)", i)
			}
			seenT, p.transformerPath, p.words = true, clean, true
		case "sentence_transformers.models.Pooling", "sentence_transformers.models.pooling.Pooling":
			if !seenT || seenP {
				return pipeline{}, fmt.Errorf("modules.json: Pooling (entry %d) must follow the Transformer or WordEmbeddings module, once", i)
			}
			seenP, p.poolingPath = true, clean
			if clean == "" {
				return pipeline{}, fmt.Errorf("modules.json: Pooling module %q has no path", m.Name)
			}
		case "sentence_transformers.models.Dense", "sentence_transformers.models.Dense.Dense":
			if !seenP || p.normalize || p.words {
				return pipeline{}, fmt.Errorf("modules.json: Dense (entry %d) is supported after the Pooling of a Transformer module (not WordEmbeddings), before Normalize", i)
			}
			if clean == "" {
				return pipeline{}, fmt.Errorf("modules.json: Dense module %q has no path", m.Name)
			}
			p.densePaths = append(p.densePaths, clean)
		case "sentence_transformers.models.Normalize", "sentence_transformers.models.normalize.Normalize":
			if !seenP {
				return pipeline{}, fmt.Errorf("modules.json: Normalize (entry %d) must follow Pooling", i)
			}
			p.normalize = true
		default:
			return pipeline{}, fmt.Errorf("modules.json: module %q of type %q is not supported (loupe runs Transformer or WordEmbeddings → Pooling → Dense → Normalize)", m.Name, m.Type)
		}
	}
	if !seenT {
		return pipeline{}, fmt.Errorf("modules.json: no Transformer or WordEmbeddings module")
	}
	if !seenP {
		return pipeline{}, fmt.Errorf("modules.json: no Pooling module: the pooling config is missing, so the sentence embedding is undefined")
	}
	return p, nil
}

// stConfig is sentence_bert_config.json.
type stConfig struct {
	MaxSeqLength int  `json:"max_seq_length"`
	DoLowerCase  bool `json:"do_lower_case"`
}

// LoadWith is Load with options.
func LoadWith(ctx context.Context, ref string, opts Options) (*Model, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	client := opts.Client
	if client == nil {
		client = hub.NewClient()
	}
	// First the files that say what else is needed.
	dir, err := client.ModelDir(ctx, ref, nil, []string{"modules.json", "sentence_bert_config.json"})
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	m := &Model{name: ref, opts: opts}
	var pipe pipeline
	plain := false
	switch b, err := os.ReadFile(filepath.Join(dir, "modules.json")); {
	case err == nil:
		if pipe, err = parseModules(b); err != nil {
			return nil, fmt.Errorf("embed: %s: %w", ref, err)
		}
	case errors.Is(err, os.ErrNotExist):
		plain = true
		pipe = pipeline{}
	default:
		return nil, fmt.Errorf("embed: %w", err)
	}
	if pipe.words {
		return loadWordModel(ctx, client, ref, pipe, opts)
	}
	tp := pipe.transformerPath
	join := func(p, f string) string {
		if p == "" {
			return f
		}
		return p + "/" + f
	}
	required := []string{join(tp, "config.json"), join(tp, "model.safetensors")}
	if !plain {
		required = append(required, join(pipe.poolingPath, "config.json"))
	}
	optional := []string{join(tp, "vocab.txt"), join(tp, "tokenizer.json"), join(tp, "tokenizer_config.json"),
		join(tp, "special_tokens_map.json"), join(tp, "sentence_bert_config.json"), join(tp, "spiece.model")}
	for _, dp := range pipe.densePaths {
		required = append(required, join(dp, "config.json"))
		optional = append(optional, join(dp, "model.safetensors"), join(dp, "pytorch_model.bin"))
	}
	if !plain {
		if st, err := os.Stat(ref); err == nil && st.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(pipe.poolingPath), "config.json")); err != nil {
				return nil, fmt.Errorf("embed: %s: modules.json lists a Pooling module at %q but %s/config.json is missing (the pooling config defines the sentence embedding)", ref, pipe.poolingPath, pipe.poolingPath)
			}
		}
	}
	if dir, err = client.ModelDir(ctx, ref, required, optional); err != nil {
		if pc := join(pipe.poolingPath, "config.json"); !plain && errors.Is(err, hub.ErrNotFound) && strings.Contains(err.Error(), pc) {
			return nil, fmt.Errorf("embed: %s: modules.json lists a Pooling module but its config %s is missing (the pooling config defines the sentence embedding): %w", ref, pc, err)
		}
		return nil, fmt.Errorf("embed: %w", err)
	}
	m.dir = dir
	tdir := filepath.Join(dir, filepath.FromSlash(tp))

	if !plain {
		pc := filepath.Join(dir, filepath.FromSlash(pipe.poolingPath), "config.json")
		b, err := os.ReadFile(pc)
		if err != nil {
			return nil, fmt.Errorf("embed: %s: modules.json lists a Pooling module at %q but its config is missing: %w", ref, pipe.poolingPath, err)
		}
		var dim int
		if m.pooling, dim, err = ParsePoolingConfig(b); err != nil {
			return nil, fmt.Errorf("embed: %s: %w", pc, err)
		}
		m.normalize = pipe.normalize
		if err := m.loadTransformer(tdir, opts); err != nil {
			return nil, err
		}
		if dim != 0 && dim != m.hiddenSize() {
			m.Close()
			return nil, fmt.Errorf("embed: %s: word_embedding_dimension %d does not match the transformer's hidden size %d", pc, dim, m.hiddenSize())
		}
		in := m.pooledDim()
		for _, dp := range pipe.densePaths {
			d, err := loadDense(filepath.Join(dir, filepath.FromSlash(dp)))
			if err != nil {
				m.Close()
				return nil, err
			}
			if d.in != in {
				m.Close()
				return nil, fmt.Errorf("embed: %s: in_features %d does not match the %d values the module before it gives", filepath.Join(dir, filepath.FromSlash(dp), "config.json"), d.in, in)
			}
			m.dense, in = append(m.dense, d), d.out
		}
		return m, nil
	}
	if err := m.loadTransformer(tdir, opts); err != nil {
		return nil, err
	}
	m.pooling = Pooling{Mean: true}
	m.warn("%s has no modules.json: using mean pooling without normalisation (sentence-transformers' default for a plain transformer)", ref)
	return m, nil
}

// loadTransformer loads the Transformer module in tdir: a T5 encoder when
// its config.json says model_type t5, else BERT.
func (m *Model) loadTransformer(tdir string, opts Options) error {
	if configModelType(tdir) == "t5" {
		return m.loadT5Encoder(tdir, opts)
	}
	return m.loadEncoder(tdir, opts)
}

// loadEncoder loads the BERT weights, the tokenizer and the sequence limit
// from the Transformer module's directory.
func (m *Model) loadEncoder(tdir string, opts Options) error {
	bm, err := bert.Load(tdir)
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	wp, err := tokenizer.LoadWordPiece(tdir)
	if err != nil {
		bm.Close()
		return fmt.Errorf("embed: %w", err)
	}
	if err := bm.Quantize(opts.Quantize); err != nil {
		bm.Close()
		return fmt.Errorf("embed: %w", err)
	}
	m.bert, m.tok = bm, wordPiece{wp}
	m.maxLen = bm.Config.MaxPositionEmbeddings
	if b, err := os.ReadFile(filepath.Join(tdir, "tokenizer_config.json")); err == nil {
		var tc struct {
			ModelMaxLength float64 `json:"model_max_length"`
		}
		if json.Unmarshal(b, &tc) == nil && tc.ModelMaxLength >= 2 && tc.ModelMaxLength < float64(m.maxLen) {
			m.maxLen = int(tc.ModelMaxLength)
		}
	}
	if b, err := os.ReadFile(filepath.Join(tdir, "sentence_bert_config.json")); err == nil {
		var sc stConfig
		if err := json.Unmarshal(b, &sc); err != nil {
			bm.Close()
			return fmt.Errorf("embed: %s: %w", filepath.Join(tdir, "sentence_bert_config.json"), err)
		}
		if sc.MaxSeqLength > 0 {
			m.maxLen = min(sc.MaxSeqLength, bm.Config.MaxPositionEmbeddings)
		}
		m.lower = sc.DoLowerCase
	}
	if opts.MaxSeqLength > 0 {
		m.maxLen = min(opts.MaxSeqLength, bm.Config.MaxPositionEmbeddings)
	}
	if m.maxLen < 2 {
		bm.Close()
		return fmt.Errorf("embed: max_seq_length %d leaves no room for [CLS] and [SEP]", m.maxLen)
	}
	return nil
}

// wordPiece adapts the BERT tokenizer.
type wordPiece struct{ t *tokenizer.WordPiece }

func (w wordPiece) encode(text string, maxLen int) ([]int, []int, bool) {
	e := w.t.Encode(text, maxLen)
	return e.IDs, e.TypeIDs, e.Truncated
}
