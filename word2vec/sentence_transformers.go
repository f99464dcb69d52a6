package word2vec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/safetensors"
)

// SentenceTransformersOptions shape the model WriteSentenceTransformers
// writes. The zero value is what sentence-transformers' WordEmbeddings
// plus mean Pooling gives, except for the stop words (see StopWords).
type SentenceTransformersOptions struct {
	// Normalize adds a Normalize module: embeddings of unit L2 length.
	Normalize bool
	// LowerCase sets the tokenizer's do_lower_case: the whole text is
	// lower-cased before it is split. Without it a word is still tried
	// lower-cased when its own spelling is not in the vocabulary.
	LowerCase bool
	// StopWords are dropped from every text. sentence-transformers'
	// WordEmbeddings.from_text_file uses its built-in English list; this
	// writes the list given here, none by default.
	StopWords []string
	// MaxSeqLength is recorded as max_seq_length; 0 writes
	// sentence-transformers' default, 1000000. WordEmbeddings does not
	// truncate by it.
	MaxSeqLength int
	// Name is the model's name in the README.md model card; "" names the
	// directory.
	Name string
}

// The names sentence-transformers gives the modules and files of an
// averaged-word-embeddings model.
const (
	stWordEmbeddingsDir = "0_WordEmbeddings"
	stPoolingDir        = "1_Pooling"
	stNormalizeDir      = "2_Normalize"
	stPaddingToken      = "PADDING_TOKEN"
)

// WriteSentenceTransformers writes v as a sentence-transformers model in
// directory dir (created if needed), the layout SentenceTransformer.save
// gives a WordEmbeddings → Pooling(mean) [→ Normalize] model, so that
// sentence-transformers' SentenceTransformer(dir) and loupe's embed.Load
// both load it:
//
//	modules.json                        the module list
//	config_sentence_transformers.json   model_type, prompts, similarity_fn_name
//	README.md                           a short model card
//	0_WordEmbeddings/wordembedding_config.json
//	0_WordEmbeddings/whitespacetokenizer_config.json  vocab, stop_words, do_lower_case
//	0_WordEmbeddings/model.safetensors  emb_layer.weight [Len()+1, Dim] float32
//	1_Pooling/config.json               mean pooling
//	2_Normalize/                        (empty; only with opt.Normalize)
//
// As in WordEmbeddings.from_text_file, row 0 of the matrix is the padding
// row: the word PADDING_TOKEN with a zero vector; word i of v is row i+1.
// A sentence's embedding is then the mean of the vectors of its known words
// (after the WhitespaceTokenizer rules, see package embed), or zeros when it
// has none.
//
// Each file is written atomically, modules.json last, so an interrupted
// write leaves a directory that does not load rather than a wrong model.
// The matrix is copied once (to prepend the padding row) while it is
// written. Words must be valid UTF-8.
func (v *Vectors) WriteSentenceTransformers(dir string, opt SentenceTransformersOptions) error {
	if v.Len() == 0 || v.Dim <= 0 || len(v.Data) != v.Len()*v.Dim {
		return fmt.Errorf("word2vec: sentence-transformers export to %s: %d words × %d dims with %d values", dir, v.Len(), v.Dim, len(v.Data))
	}
	if opt.MaxSeqLength < 0 {
		return &OptionError{Field: "MaxSeqLength", Value: opt.MaxSeqLength, Allowed: "0 (sentence-transformers' default, 1000000) or more"}
	}
	for i, w := range v.Words {
		if !utf8.ValidString(w) {
			return fmt.Errorf("word2vec: sentence-transformers export to %s: word %d (%q) is not valid UTF-8 (the vocabulary is stored as JSON text)", dir, i, w)
		}
	}
	maxSeq := opt.MaxSeqLength
	if maxSeq == 0 {
		maxSeq = 1000000
	}
	stop := opt.StopWords
	if stop == nil {
		stop = []string{}
	}
	for _, d := range []string{dir, filepath.Join(dir, stWordEmbeddingsDir), filepath.Join(dir, stPoolingDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("word2vec: %w", err)
		}
	}
	wdir := filepath.Join(dir, stWordEmbeddingsDir)

	// The matrix, with the zero padding row first.
	data := make([]float32, (v.Len()+1)*v.Dim)
	copy(data[v.Dim:], v.Data)
	err := safetensors.WriteFile(filepath.Join(wdir, "model.safetensors"),
		[]safetensors.Tensor{{Name: "emb_layer.weight", Shape: []int{v.Len() + 1, v.Dim}, Data: data}},
		map[string]string{"format": "pt"})
	if err != nil {
		return fmt.Errorf("word2vec: %w", err)
	}
	vocab := make([]string, 0, v.Len()+1)
	vocab = append(vocab, stPaddingToken)
	vocab = append(vocab, v.Words...)

	type module struct {
		Idx  int    `json:"idx"`
		Name string `json:"name"`
		Path string `json:"path"`
		Type string `json:"type"`
	}
	modules := []module{
		{0, "0", stWordEmbeddingsDir, "sentence_transformers.models.WordEmbeddings"},
		{1, "1", stPoolingDir, "sentence_transformers.models.Pooling"},
	}
	if opt.Normalize {
		if err := os.MkdirAll(filepath.Join(dir, stNormalizeDir), 0o755); err != nil {
			return fmt.Errorf("word2vec: %w", err)
		}
		modules = append(modules, module{2, "2", stNormalizeDir, "sentence_transformers.models.Normalize"})
	}
	name := opt.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	files := []struct {
		path string
		obj  any
		raw  []byte
	}{
		{filepath.Join(wdir, "whitespacetokenizer_config.json"), struct {
			Vocab       []string `json:"vocab"`
			StopWords   []string `json:"stop_words"`
			DoLowerCase bool     `json:"do_lower_case"`
		}{vocab, stop, opt.LowerCase}, nil},
		{filepath.Join(wdir, "wordembedding_config.json"), struct {
			TokenizerClass   string `json:"tokenizer_class"`
			UpdateEmbeddings bool   `json:"update_embeddings"`
			MaxSeqLength     int    `json:"max_seq_length"`
		}{"sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer", false, maxSeq}, nil},
		{filepath.Join(dir, stPoolingDir, "config.json"), struct {
			Dim           int  `json:"word_embedding_dimension"`
			CLS           bool `json:"pooling_mode_cls_token"`
			Mean          bool `json:"pooling_mode_mean_tokens"`
			Max           bool `json:"pooling_mode_max_tokens"`
			MeanSqrtLen   bool `json:"pooling_mode_mean_sqrt_len_tokens"`
			WeightedMean  bool `json:"pooling_mode_weightedmean_tokens"`
			LastToken     bool `json:"pooling_mode_lasttoken"`
			IncludePrompt bool `json:"include_prompt"`
		}{Dim: v.Dim, Mean: true, IncludePrompt: true}, nil},
		{filepath.Join(dir, "config_sentence_transformers.json"), struct {
			ModelType         string            `json:"model_type"`
			Prompts           map[string]string `json:"prompts"`
			DefaultPromptName *string           `json:"default_prompt_name"`
			SimilarityFn      string            `json:"similarity_fn_name"`
		}{"SentenceTransformer", map[string]string{}, nil, "cosine"}, nil},
		{filepath.Join(dir, "README.md"), nil, modelCard(name, v, opt)},
		{filepath.Join(dir, "modules.json"), modules, nil}, // last
	}
	for _, f := range files {
		b := f.raw
		if b == nil {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(f.obj); err != nil {
				return fmt.Errorf("word2vec: %s: %w", f.path, err)
			}
			b = buf.Bytes()
		}
		if err := atomicfile.WriteFile(f.path, b); err != nil {
			return fmt.Errorf("word2vec: %w", err)
		}
	}
	return nil
}

// modelCard is a short README.md for the exported model.
func modelCard(name string, v *Vectors, opt SentenceTransformersOptions) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n- feature-extraction\n- sentence-similarity\n---\n\n")
	fmt.Fprintf(&b, "# %s\n\nAveraged word embeddings: %d word2vec vectors of %d dimensions (exported by loupe), ", name, v.Len(), v.Dim)
	fmt.Fprintf(&b, "as a sentence-transformers model: WordEmbeddings (WhitespaceTokenizer, do_lower_case %v, %d stop words) → mean Pooling", opt.LowerCase, len(opt.StopWords))
	if opt.Normalize {
		b.WriteString(" → Normalize")
	}
	b.WriteString(".\n\nA sentence's embedding is the mean of the vectors of its known words, zeros if it has none.\n\n")
	b.WriteString("```python\nfrom sentence_transformers import SentenceTransformer\nmodel = SentenceTransformer(\"PATH\")\nembeddings = model.encode([\"a sentence\"])\n```\n\n")
	b.WriteString("```sh\nloupe embed --model PATH \"a sentence\"\n```\n")
	return b.Bytes()
}
