package generate

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestQuantizeDir writes the default model quantized (int8 and bf16) and
// loads the directory back: the tokenizer and generation config come
// along, the precision is the stored one, and the logits are bit for bit
// those of Load with LoadOptions.Quantize on the source.
func TestQuantizeDir(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	ctx := context.Background()
	for _, p := range []string{"int8", "bf16"} {
		out := filepath.Join(t.TempDir(), "q")
		r, err := Quantize(ctx, defaults.GPT2, out, QuantizeOptions{Precision: p})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"config.json", "model.safetensors", GenerationConfigFile} {
			if !slices.Contains(r.Files, f) {
				t.Errorf("%s: files %v lack %s", p, r.Files, f)
			}
		}
		if r.Precision != p || r.Out != out || r.WeightBytes <= 0 || r.Float32Bytes <= 0 {
			t.Errorf("result %+v", r)
		}
		ratio := float64(r.WeightBytes) / float64(r.Float32Bytes)
		if want := map[string]float64{"int8": 0.27, "bf16": 0.51}[p]; ratio > want {
			t.Errorf("%s: model.safetensors is %.3f of the float32 weights, want at most %.2f", p, ratio, want)
		}
		want, err := Load(ctx, defaults.GPT2, LoadOptions{Quantize: p})
		if err != nil {
			t.Fatal(err)
		}
		got, err := Load(ctx, out, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Model.Precision() != p || got.Tokenizer == nil || got.Config == nil {
			t.Errorf("%s: precision %q, tokenizer %v, generation config %v", p, got.Model.Precision(), got.Tokenizer != nil, got.Config != nil)
		}
		ids, err := got.Encode("And God said, Let there be light: and there was light.")
		if err != nil {
			t.Fatal(err)
		}
		lw, _ := want.Model.Forward(ids, nil)
		lg, _ := got.Model.Forward(ids, nil)
		for i := range lw {
			if math.Float32bits(lw[i]) != math.Float32bits(lg[i]) {
				t.Fatalf("%s: logit %d: %v from the directory, %v quantized at load", p, i, lg[i], lw[i])
			}
		}
		want.Close()
		got.Close()
		t.Logf("%s: %d bytes of %d float32 (%.3f×) in %.2f s", p, r.WeightBytes, r.Float32Bytes, ratio, r.Seconds)
	}
}

// TestQuantizeDirErrors: what Quantize refuses, with errors that say why.
func TestQuantizeDirErrors(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	ctx := context.Background()
	tmp := t.TempDir()
	q := filepath.Join(tmp, "q")
	if _, err := Quantize(ctx, defaults.GPT2, q, QuantizeOptions{Precision: "int8"}); err != nil {
		t.Fatal(err)
	}
	bert := filepath.Join(tmp, "bert")
	os.MkdirAll(bert, 0o755)
	os.WriteFile(filepath.Join(bert, "config.json"), []byte(`{"model_type": "bert", "architectures": ["BertModel"]}`), 0o644)
	full := filepath.Join(tmp, "full")
	os.MkdirAll(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("x"), 0o644)
	file := filepath.Join(tmp, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	for _, c := range []struct {
		name, ref, out, precision string
		want                      string
	}{
		{"already quantized", q, filepath.Join(tmp, "q2"), "int8", "is already quantized (int8 weights written by loupe quantize)"},
		{"bert", bert, filepath.Join(tmp, "b2"), "int8", "is a bert model: quantize writes GPT-2 checkpoints only (BERT models quantize at load"},
		{"not empty", defaults.GPT2, full, "int8", full + " exists and is not empty"},
		{"not a directory", defaults.GPT2, file, "bf16", file + " exists and is not a directory"},
		{"float32", defaults.GPT2, filepath.Join(tmp, "f"), "none", `quantize "none": want int8, bf16 or f16`},
		{"unknown", defaults.GPT2, filepath.Join(tmp, "f"), "int4", `quantize "int4": want int8, bf16 or f16`},
		{"no output", defaults.GPT2, "", "int8", "no output directory"},
		{"missing model", filepath.Join(tmp, "nope"), filepath.Join(tmp, "f"), "int8", "nope"},
	} {
		_, err := Quantize(ctx, c.ref, c.out, QuantizeOptions{Precision: c.precision})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, "f")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused quantize left %s behind", filepath.Join(tmp, "f"))
	}
	// Force replaces a non-empty directory, and leaves no temporary one.
	r, err := Quantize(ctx, defaults.GPT2, full, QuantizeOptions{Precision: "bf16", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(r.Files, "keep.txt") {
		t.Errorf("--force kept the old files: %v", r.Files)
	}
	es, _ := os.ReadDir(tmp)
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
	m, err := gpt2.Load(full)
	if err != nil || m.Precision() != gpt2.BF16 {
		t.Fatalf("forced directory: %v, %v", m, err)
	}
	m.Close()
}
