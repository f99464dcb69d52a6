package seq2seq

import (
	"context"
	"errors"
	"testing"

	"github.com/loupe-ml/loupe/model/t5"
)

// TestLoadEncoderOnlyT5: a T5EncoderModel checkpoint (a sentence-T5
// Transformer module) cannot translate or summarize; Load says so.
func TestLoadEncoderOnlyT5(t *testing.T) {
	cfg, err := t5.ParseConfig([]byte(`{"model_type":"t5","architectures":["T5EncoderModel"],"d_model":16,"d_kv":4,"d_ff":32,
		"num_layers":1,"num_heads":4,"vocab_size":40,"relative_attention_num_buckets":8}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := t5.Random(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), dir, LoadOptions{}); !errors.Is(err, t5.ErrEncoderOnly) {
		t.Errorf("Load: %v, want an error wrapping t5.ErrEncoderOnly", err)
	}
}
