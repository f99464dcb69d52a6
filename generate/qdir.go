package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// QuantizeOptions control Quantize.
type QuantizeOptions struct {
	// Hub fetches hub ids; nil means hub.NewClient().
	Hub *hub.Client
	// Precision is the stored precision: "int8" (gpt2.Int8), "bf16"
	// (gpt2.BF16) or "f16" (gpt2.F16).
	Precision string
	// Force replaces an existing non-empty output directory.
	Force bool
}

// QuantizeResult describes the directory Quantize wrote.
type QuantizeResult struct {
	Model        string   `json:"model"`         // the reference given
	Source       string   `json:"source"`        // the directory it was read from
	Out          string   `json:"out"`           // the directory written
	Precision    string   `json:"precision"`     // int8, bf16 or f16
	Files        []string `json:"files"`         // the files of Out, sorted
	WeightBytes  int64    `json:"weight_bytes"`  // size of Out's model.safetensors
	Float32Bytes int64    `json:"float32_bytes"` // the model's parameters as float32
	Seconds      float64  `json:"seconds"`
}

// quantizeCopied are the files Quantize copies from the source directory
// when it has them: the tokenizer's and the generation defaults.
var quantizeCopied = append(slices.Clone(tokenizer.Files), GenerationConfigFile)

// Quantize writes the GPT-2 model ref (a directory, a hub id or a built-in
// name, resolved as Load resolves it) to the directory out with its weights
// stored in opt.Precision, in the layout gpt2.Model.SaveQuantized documents
// (config.json with a quantization_config, model.safetensors), together
// with the source's tokenizer files and generation_config.json. Load and
// gpt2.Load then read out directly, without converting anything, and
// decode exactly as Load with LoadOptions.Quantize does on the source.
//
// out is written atomically: built in a hidden directory beside it and
// renamed at the end. An existing non-empty out is an error unless
// opt.Force is set (it is then replaced). A BERT model, a directory that
// is already quantized, or out being the source itself are errors.
func Quantize(ctx context.Context, ref, out string, opt QuantizeOptions) (*QuantizeResult, error) {
	start := time.Now()
	p, err := gpt2.ParsePrecision(opt.Precision)
	if err != nil || p == gpt2.Float32 {
		return nil, &OptionError{Field: "quantize", Value: fmt.Sprintf("%q", opt.Precision), Allowed: "int8, bf16 or f16"}
	}
	if ref == "" {
		return nil, errors.New("generate: quantize: no model given (a directory or a hub id such as gpt2)")
	}
	if out == "" {
		return nil, errors.New("generate: quantize: no output directory given")
	}
	out = filepath.Clean(out)
	if err := checkOut(out, opt.Force); err != nil {
		return nil, err
	}
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, nil)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("generate: quantize: %w", err)
	}
	if err := checkQuantizable(ref, cfg); err != nil {
		return nil, err
	}
	if same(dir, out) {
		return nil, fmt.Errorf("generate: quantize: the output directory %s is the model's own directory", out)
	}
	pl, err := Load(ctx, ref, LoadOptions{Hub: opt.Hub, Quantize: p})
	if err != nil {
		return nil, err
	}
	defer pl.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := writeQuantized(pl, cfg, out, opt.Force); err != nil {
		return nil, err
	}
	r := &QuantizeResult{Model: ref, Source: pl.Dir, Out: out, Precision: p,
		Float32Bytes: pl.Model.WeightBytes(), Seconds: time.Since(start).Seconds()}
	es, err := os.ReadDir(out)
	if err != nil {
		return nil, fmt.Errorf("generate: quantize: %w", err)
	}
	for _, e := range es {
		r.Files = append(r.Files, e.Name())
	}
	if st, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		r.WeightBytes = st.Size()
	}
	return r, nil
}

// checkOut refuses an existing out that is not an empty directory, unless
// force is set and it is a directory.
func checkOut(out string, force bool) error {
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("generate: quantize: %w", err)
	case !st.IsDir():
		return fmt.Errorf("generate: quantize: %s exists and is not a directory", out)
	}
	es, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	if len(es) > 0 && !force {
		return fmt.Errorf("generate: quantize: %s exists and is not empty: choose another directory, or replace it (force)", out)
	}
	return nil
}

// checkQuantizable reads config.json (cfg) of model ref: a GPT-2 that is
// not quantized already.
func checkQuantizable(ref string, cfg []byte) error {
	var h struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	json.Unmarshal(cfg, &h) // ParseConfig reports malformed files below
	bert := h.ModelType == "bert" || h.ModelType == "distilbert" || h.ModelType == "roberta"
	for _, a := range h.Architectures {
		bert = bert || strings.Contains(a, "Bert")
	}
	if bert {
		return fmt.Errorf("generate: quantize: %s is a %s model: quantize writes GPT-2 checkpoints only (BERT models quantize at load: --quantize int8 on loupe embed, search and classify)", ref, cmp(h.ModelType, "BERT"))
	}
	c, err := gpt2.ParseConfig(cfg)
	if err != nil {
		return fmt.Errorf("generate: quantize: %s: %w", ref, err)
	}
	if c.Quantization != "" {
		return fmt.Errorf("generate: quantize: %s is already quantized (%s weights written by loupe quantize): quantize the float32 checkpoint it was made from", ref, c.Quantization)
	}
	return nil
}

// cmp returns s, or def when s is empty.
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// same reports whether the paths a and b name the same directory.
func same(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// writeQuantized writes p's quantized model, with config.json from cfg and
// the files of quantizeCopied p.Dir holds, into a temporary directory
// beside out and renames it to out (replacing an existing one when force
// is set).
func writeQuantized(p *Pipeline, cfg []byte, out string, force bool) (err error) {
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := p.Model.SaveQuantized(tmp, cfg); err != nil {
		return err
	}
	for _, name := range quantizeCopied {
		if err := copyInto(tmp, filepath.Join(p.Dir, name)); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp's 0700
		return fmt.Errorf("generate: quantize: %w", err)
	}
	if _, serr := os.Stat(out); serr == nil {
		if err := checkOut(out, force); err != nil { // made non-empty meanwhile
			return err
		}
		old := tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("generate: quantize: %w", err)
		}
		if err := os.Rename(tmp, out); err != nil {
			os.Rename(old, out)
			return fmt.Errorf("generate: quantize: %w", err)
		}
		os.RemoveAll(old)
		return nil
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	return nil
}

// copyInto copies the file src (following links, as in the hub cache)
// into dir under its own name, atomically; a missing src is skipped.
func copyInto(dir, src string) error {
	f, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	defer f.Close()
	err = atomicfile.Write(filepath.Join(dir, filepath.Base(src)), func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("generate: quantize: %w", err)
	}
	return nil
}

// WriteText writes r for people: the directory, its precision and size
// against the float32 weights.
func (r *QuantizeResult) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "wrote %s: %s weights, model.safetensors %.1f MB (%.2f× the %.1f MB of float32 weights), from %s in %.1f s\n",
		r.Out, r.Precision, float64(r.WeightBytes)/1e6, float64(r.WeightBytes)/float64(max(r.Float32Bytes, 1)), float64(r.Float32Bytes)/1e6, r.Source, r.Seconds)
	return err
}
