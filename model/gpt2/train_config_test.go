package gpt2

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfigSpec(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(file, []byte(`{"n_layer": 2, "n_embd": 64, "n_head": 4, "n_positions": 32, "activation_function": "gelu"}`), 0o644)
	for _, c := range []struct {
		spec      string
		vocab, eo int
		want      Config
		err       string
	}{
		{"n_layer=4,n_embd=256,n_head=4,n_ctx=256", 8192, 0, Config{NLayer: 4, NHead: 4, NEmbd: 256, NPositions: 256, VocabSize: 8192, EOSTokenID: 0, BOSTokenID: 0}, ""},
		{"n_layer=1, n_embd=32, n_head=2, n_positions=16, vocab_size=50", 0, -1, Config{NLayer: 1, NHead: 2, NEmbd: 32, NPositions: 16, VocabSize: 50, EOSTokenID: -1, BOSTokenID: -1}, ""},
		{file, 100, 99, Config{NLayer: 2, NHead: 4, NEmbd: 64, NPositions: 32, VocabSize: 100, EOSTokenID: 99, BOSTokenID: 99}, ""},
		{"n_layer=4,n_embd=250,n_head=4,n_ctx=16", 100, -1, Config{}, "multiple of n_head"},
		{"n_layer=4,n_embd", 100, -1, Config{}, "not key=value"},
		{"n_layer=4,n_embd=64,n_head=4", 100, -1, Config{}, "n_positions"},
		{"no-such-file.json", 100, -1, Config{}, "no such file"},
	} {
		got, err := ParseConfigSpec(c.spec, c.vocab, c.eo)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.spec, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if got.NLayer != c.want.NLayer || got.NHead != c.want.NHead || got.NEmbd != c.want.NEmbd || got.NPositions != c.want.NPositions ||
			got.VocabSize != c.want.VocabSize || got.EOSTokenID != c.want.EOSTokenID || got.BOSTokenID != c.want.BOSTokenID {
			t.Errorf("%q: %+v, want %+v", c.spec, got, c.want)
		}
	}
}
