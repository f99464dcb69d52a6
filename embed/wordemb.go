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

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/hub"
)

// sentence-transformers' WordEmbeddings module: a WhitespaceTokenizer, an
// embedding matrix looked up by the word rows, and then Pooling over the
// looked-up vectors as over a transformer's token vectors. Its folder holds
//
//	wordembedding_config.json        {"tokenizer_class", "update_embeddings", "max_seq_length"}
//	whitespacetokenizer_config.json  {"vocab": [...], "stop_words": [...], "do_lower_case"}
//	model.safetensors                emb_layer.weight [rows, dim] (or pytorch_model.bin)
//
// Row 0 is the padding row (all zeros, vocabulary word "PADDING_TOKEN" in
// models made by WordEmbeddings.from_text_file); padding is masked out by
// the attention mask, so it never reaches the pooled vector.

// Files of a WordEmbeddings module folder.
const (
	wordEmbConfigFile   = "wordembedding_config.json"
	whitespaceFile      = "whitespacetokenizer_config.json"
	wordEmbWeightTensor = "emb_layer.weight"
)

// whitespaceTokenizerClasses are the tokenizer_class values that name
// WhitespaceTokenizer: sentence-transformers writes the module path plus the
// class name, and imports the module path alone too.
var whitespaceTokenizerClasses = []string{
	"sentence_transformers.models.tokenizer.WhitespaceTokenizer.WhitespaceTokenizer",
	"sentence_transformers.models.tokenizer.WhitespaceTokenizer",
}

// wordEmbConfig is wordembedding_config.json.
type wordEmbConfig struct {
	TokenizerClass   *string `json:"tokenizer_class"`
	UpdateEmbeddings bool    `json:"update_embeddings"`
	MaxSeqLength     *int    `json:"max_seq_length"`
}

// defaultWordEmbMaxSeqLength is WordEmbeddings' max_seq_length default.
const defaultWordEmbMaxSeqLength = 1000000

// wordEmbeddings is a loaded WordEmbeddings module.
type wordEmbeddings struct {
	tok    *whitespaceTokenizer
	ck     *checkpoint.Checkpoint // keeps emb mapped; nil when emb was copied
	emb    []float32              // [rows, dim]
	rows   int
	dim    int
	maxLen int // max_seq_length as the config says; not applied (see embedWords)
}

// loadWordModel is LoadWith for a modules.json whose first module is
// WordEmbeddings.
func loadWordModel(ctx context.Context, client *hub.Client, ref string, pipe pipeline, opts Options) (*Model, error) {
	if opts.Quantize != "" && opts.Quantize != "float32" {
		return nil, &OptionError{Field: "Quantize", Value: fmt.Sprintf("%q", opts.Quantize), Allowed: "float32 for " + ref + ", a WordEmbeddings model (a table lookup: no linear layers to quantize)"}
	}
	wp := pipe.transformerPath
	poolCfg := path.Join(pipe.poolingPath, "config.json")
	required := []string{path.Join(wp, wordEmbConfigFile), path.Join(wp, whitespaceFile), path.Join(wp, checkpoint.Safetensors), poolCfg}
	dir, err := client.ModelDir(ctx, ref, required, nil)
	if err != nil {
		if errors.Is(err, hub.ErrNotFound) {
			return nil, fmt.Errorf("embed: %s: a WordEmbeddings model needs %s (the weights may be pytorch_model.bin instead): %w", ref, strings.Join(required, ", "), err)
		}
		return nil, fmt.Errorf("embed: %w", err)
	}
	pc := filepath.Join(dir, filepath.FromSlash(poolCfg))
	b, err := os.ReadFile(pc)
	if err != nil {
		return nil, fmt.Errorf("embed: %s: modules.json lists a Pooling module at %q but its config is missing: %w", ref, pipe.poolingPath, err)
	}
	pool, pdim, err := ParsePoolingConfig(b)
	if err != nil {
		return nil, fmt.Errorf("embed: %s: %w", pc, err)
	}
	if pool.CLS {
		// WordEmbeddings sets cls_token_embeddings to None, which Pooling
		// then fails to concatenate.
		return nil, fmt.Errorf("embed: %s: pooling_mode_cls_token does not work with a WordEmbeddings module (it has no CLS token; sentence-transformers fails too)", pc)
	}
	w, err := loadWordEmbeddings(filepath.Join(dir, filepath.FromSlash(wp)))
	if err != nil {
		return nil, err
	}
	if pdim != 0 && pdim != w.dim {
		w.close()
		return nil, fmt.Errorf("embed: %s: word_embedding_dimension %d does not match %s's %d columns", pc, pdim, wordEmbWeightTensor, w.dim)
	}
	m := &Model{name: ref, dir: dir, opts: opts, words: w, pooling: pool, normalize: pipe.normalize, maxLen: w.maxLen}
	if opts.MaxSeqLength > 0 {
		m.maxLen = opts.MaxSeqLength
	}
	return m, nil
}

// loadWordEmbeddings reads the WordEmbeddings module in directory dir.
func loadWordEmbeddings(dir string) (*wordEmbeddings, error) {
	cpath := filepath.Join(dir, wordEmbConfigFile)
	b, err := os.ReadFile(cpath)
	if err != nil {
		return nil, fmt.Errorf("embed: WordEmbeddings module: %w", err)
	}
	var c wordEmbConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("embed: %s: %w", cpath, err)
	}
	if c.TokenizerClass == nil {
		return nil, fmt.Errorf("embed: %s: no tokenizer_class", cpath)
	}
	known := false
	for _, k := range whitespaceTokenizerClasses {
		known = known || *c.TokenizerClass == k
	}
	if !known {
		return nil, fmt.Errorf("embed: %s: tokenizer_class %q is not supported (loupe reads %s)", cpath, *c.TokenizerClass, whitespaceTokenizerClasses[0])
	}
	w := &wordEmbeddings{maxLen: defaultWordEmbMaxSeqLength}
	if c.MaxSeqLength != nil {
		if *c.MaxSeqLength <= 0 {
			return nil, fmt.Errorf("embed: %s: max_seq_length %d, want > 0", cpath, *c.MaxSeqLength)
		}
		w.maxLen = *c.MaxSeqLength
	}
	tpath := filepath.Join(dir, whitespaceFile)
	if st, err := os.Stat(tpath); err == nil && st.Size() > maxWhitespaceConfig {
		return nil, fmt.Errorf("embed: %s: %d bytes, more than the %d allowed", tpath, st.Size(), int64(maxWhitespaceConfig))
	}
	if b, err = os.ReadFile(tpath); err != nil {
		return nil, fmt.Errorf("embed: WordEmbeddings module: %w", err)
	}
	if w.tok, err = parseWhitespaceTokenizer(b); err != nil {
		return nil, fmt.Errorf("embed: %s: %w", dir, err)
	}

	ck, err := checkpoint.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("embed: WordEmbeddings module: %w", err)
	}
	info, ok := ck.Info(wordEmbWeightTensor)
	if !ok {
		ck.Close()
		return nil, fmt.Errorf("embed: %s: no tensor %q (the WordEmbeddings matrix); it has %s", ck.Path(), wordEmbWeightTensor, strings.Join(ck.Names(), ", "))
	}
	if len(info.Shape) != 2 || info.Shape[0] < 1 || info.Shape[1] < 1 {
		ck.Close()
		return nil, fmt.Errorf("embed: %s: tensor %s has shape %v, want [rows, dim] with both > 0", ck.Path(), wordEmbWeightTensor, info.Shape)
	}
	w.rows, w.dim = info.Shape[0], info.Shape[1]
	if w.tok.vocabLen > w.rows {
		ck.Close()
		return nil, fmt.Errorf("embed: %s: the vocabulary of %s has %d words but %s has %d rows (shape %v)", dir, whitespaceFile, w.tok.vocabLen, wordEmbWeightTensor, w.rows, info.Shape)
	}
	if w.emb, err = ck.Float32(wordEmbWeightTensor); err != nil {
		ck.Close()
		return nil, fmt.Errorf("embed: %w", err)
	}
	if len(w.emb) != w.rows*w.dim {
		ck.Close()
		return nil, fmt.Errorf("embed: %s: tensor %s has %d values, want %d (shape %v)", ck.Path(), wordEmbWeightTensor, len(w.emb), w.rows*w.dim, info.Shape)
	}
	w.ck = ck
	return w, nil
}

// close releases the mapped weights.
func (w *wordEmbeddings) close() error {
	if w.ck == nil {
		return nil
	}
	err := w.ck.Close()
	w.ck, w.emb = nil, nil
	return err
}

// embedWords is Embed for a WordEmbeddings model: each text's word rows
// are looked up and pooled (mask all ones), then normalised if the
// pipeline says so. sentence-transformers does not truncate here (its
// max_seq_length is not applied by WordEmbeddings.tokenize); only an
// explicit Options.MaxSeqLength keeps the first that many words.
func (m *Model) embedWords(texts []string) ([][]float32, error) {
	w := m.words
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	dim := m.Dim()
	flat := make([]float32, len(texts)*dim)
	var ids []int
	var hidden, mask []float32
	dst := make([][]float32, 1)
	truncated := 0
	bs := m.opts.BatchSize
	if bs <= 0 {
		bs = DefaultBatchSize
	}
	for i, s := range texts {
		ids = w.tok.tokenize(ids[:0], s)
		if n := m.opts.MaxSeqLength; n > 0 && len(ids) > n {
			ids = ids[:n]
			truncated++
		}
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		if m.pooling == (Pooling{Mean: true}) {
			meanRows(v, w.emb, w.dim, ids)
		} else {
			hidden = hidden[:0]
			mask = mask[:0]
			for _, r := range ids {
				hidden = append(hidden, w.emb[r*w.dim:(r+1)*w.dim]...)
				mask = append(mask, 1)
			}
			dst[0] = v[:0]
			Pool(m.pooling, hidden, mask, 1, len(ids), w.dim, dst)
		}
		if m.normalize {
			Normalize(v)
		}
		out[i] = v
		if p := m.opts.Progress; p != nil && ((i+1)%bs == 0 || i+1 == len(texts)) {
			p(i+1, len(texts))
		}
	}
	if truncated > 0 {
		m.warn("%d of %d texts had more than %d words (--max-seq-length) and were truncated", truncated, len(texts), m.opts.MaxSeqLength)
	}
	return out, nil
}

// meanRows sets dst to the mean of the rows of emb (dim wide) listed in
// ids, summed in float64; no rows give zeros, as sentence-transformers'
// sum / max(count, 1e-9) does.
func meanRows(dst, emb []float32, dim int, ids []int) {
	if len(ids) == 0 {
		clear(dst)
		return
	}
	if len(ids) == 1 {
		copy(dst, emb[ids[0]*dim:(ids[0]+1)*dim])
		return
	}
	var stack [512]float64
	sum := stack[:0]
	if dim <= len(stack) {
		sum = stack[:dim]
		clear(sum)
	} else {
		sum = make([]float64, dim)
	}
	for _, r := range ids {
		for j, x := range emb[r*dim : (r+1)*dim] {
			sum[j] += float64(x)
		}
	}
	n := float64(len(ids))
	for j, s := range sum {
		dst[j] = float32(s / n)
	}
}
