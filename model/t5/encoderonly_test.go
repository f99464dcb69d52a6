package t5

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEncoderOnly checks that a T5EncoderModel checkpoint (shared.weight
// and the encoder only) loads, encodes as the full model's encoder does,
// and refuses to decode; and that a full checkpoint read as
// T5EncoderModel ignores its decoder.
func TestEncoderOnly(t *testing.T) {
	full := newRandom(t, smallConfig(t, ""))
	for _, tc := range []struct {
		name  string
		extra string
	}{
		{"architectures", `,"architectures":["T5EncoderModel"]`},
		{"is_encoder_decoder", `,"is_encoder_decoder":false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallConfig(t, tc.extra)
			if !c.EncoderOnly || c.DecoderLayers != 0 {
				t.Fatalf("EncoderOnly %v, DecoderLayers %d; want true, 0", c.EncoderOnly, c.DecoderLayers)
			}
		})
	}
	enc := newRandom(t, smallConfig(t, `,"architectures":["T5EncoderModel"]`))
	dir := t.TempDir()
	if err := enc.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Weights.Decoder) != 0 || m.Weights.DecRelBias != nil {
		t.Fatalf("encoder-only model holds %d decoder layers", len(m.Weights.Decoder))
	}
	src := [][]int{{3, 4, 5, 1}, {7, 1}}
	want, err := full.Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	for r := range src {
		if !slices.Equal(got.States(r), want.States(r)) {
			t.Errorf("row %d: encoder states differ from the full model's", r)
		}
	}
	if _, err := m.NewDecoderFor(got, DecoderOptions{}); !errors.Is(err, ErrEncoderOnly) {
		t.Errorf("NewDecoderFor: %v, want ErrEncoderOnly", err)
	}
	if _, err := m.Forward(src[0], []int{0}); !errors.Is(err, ErrEncoderOnly) {
		t.Errorf("Forward: %v, want ErrEncoderOnly", err)
	}
	if err := m.NewDecoder(DecoderOptions{}).Forward([][]int{{0}}); !errors.Is(err, ErrEncoderOnly) {
		t.Errorf("Decoder.Forward: %v, want ErrEncoderOnly", err)
	}

	// A full checkpoint whose config says T5EncoderModel: the decoder and
	// lm_head are ignored.
	fdir := t.TempDir()
	if err := full.Save(fdir, "F32"); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(fdir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "T5ForConditionalGeneration", "T5EncoderModel", 1))
	if err := os.WriteFile(filepath.Join(fdir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(fdir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	got2, err := m2.Encode(src)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got2.States(0), want.States(0)) {
		t.Error("full checkpoint read as T5EncoderModel: encoder states differ")
	}

	// A full config with encoder-only weights names the first missing
	// decoder tensor.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(string(cfg), "T5EncoderModel", "T5ForConditionalGeneration", 1)), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "decoder.block.0") {
		t.Errorf("full config, encoder-only weights: %v, want an error naming a decoder tensor", err)
	}
}
