package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/hub"
)

// testdata/st is written by model/bert/testdata/reference.py (plain PyTorch,
// sentence-transformers pooling). Regenerate from the repository root with:
//
//	/usr/bin/python3 model/bert/testdata/reference.py

type goldenST struct {
	Texts          []string               `json:"texts"`
	IDs            [][]int                `json:"ids"`
	Dim            int                    `json:"dim"`
	Modes          map[string][][]float32 `json:"modes"`
	NormalizedMean [][]float32            `json:"normalized_mean"`
	Truncated6     [][]float32            `json:"truncated6_normalized_mean"`
}

func readGoldenST(t *testing.T) goldenST {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "st", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenST
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func offline() *hub.Client {
	c := hub.NewClient()
	c.Offline = true
	return c
}

// copyST copies testdata/st into a temporary directory and lets edit change
// it before the model is loaded.
func copyST(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", "st")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

func maxAbs(t *testing.T, got, want [][]float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d vectors, want %d", len(got), len(want))
	}
	d := 0.0
	for i := range got {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("vector %d has length %d, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			d = math.Max(d, math.Abs(float64(got[i][j]-want[i][j])))
		}
	}
	return d
}

func load(t *testing.T, dir string, opts Options) (*Model, *[]string) {
	t.Helper()
	warnings := new([]string)
	opts.Client = offline()
	opts.Warn = func(s string) { *warnings = append(*warnings, s) }
	m, err := LoadWith(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, warnings
}

func TestSentenceTransformersGolden(t *testing.T) {
	g := readGoldenST(t)
	dir := filepath.Join("testdata", "st")
	for _, bs := range []int{0, 1, 3} {
		m, warnings := load(t, dir, Options{BatchSize: bs})
		if m.Dim() != g.Dim || !m.Normalized() || m.Pooling() != (Pooling{Mean: true}) || m.MaxSeqLength() != 256 || m.Name() != dir {
			t.Fatalf("model: dim %d normalized %v pooling %v max %d name %q", m.Dim(), m.Normalized(), m.Pooling(), m.MaxSeqLength(), m.Name())
		}
		// The tokenizer must give the reference's ids.
		for i, s := range g.Texts {
			ids, _, _ := m.tok.encode(s, 0)
			if !slices.Equal(ids, g.IDs[i]) {
				t.Fatalf("text %q: ids %v, want %v", s, ids, g.IDs[i])
			}
		}
		got, err := m.Embed(g.Texts)
		if err != nil {
			t.Fatal(err)
		}
		d := maxAbs(t, got, g.NormalizedMean)
		t.Logf("batch size %d: mean+normalize max abs diff %.3g", bs, d)
		if d > 1e-4 {
			t.Errorf("batch size %d: max abs diff %g", bs, d)
		}
		if len(*warnings) != 0 {
			t.Errorf("unexpected warnings %q", *warnings)
		}
	}
}

func TestPoolingModesGolden(t *testing.T) {
	g := readGoldenST(t)
	for mode, want := range g.Modes {
		dir := copyST(t, func(dir string) {
			cfg := map[string]any{"word_embedding_dimension": 32, "pooling_mode_cls_token": mode == "cls",
				"pooling_mode_mean_tokens": mode == "mean", "pooling_mode_max_tokens": mode == "max",
				"pooling_mode_mean_sqrt_len_tokens": mode == "mean_sqrt_len"}
			b, _ := json.Marshal(cfg)
			os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"), b, 0o644)
			mods := `[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
				{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`
			os.WriteFile(filepath.Join(dir, "modules.json"), []byte(mods), 0o644)
		})
		m, _ := load(t, dir, Options{BatchSize: 4})
		got, err := m.Embed(g.Texts)
		if err != nil {
			t.Fatal(err)
		}
		d := maxAbs(t, got, want)
		t.Logf("%s pooling: max abs diff %.3g", mode, d)
		if d > 1e-4 {
			t.Errorf("%s pooling: max abs diff %g", mode, d)
		}
	}
}

func TestConcatenatedPooling(t *testing.T) {
	g := readGoldenST(t)
	dir := copyST(t, func(dir string) {
		os.WriteFile(filepath.Join(dir, "1_Pooling", "config.json"),
			[]byte(`{"word_embedding_dimension":32,"pooling_mode_cls_token":true,"pooling_mode_mean_tokens":true}`), 0o644)
		os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
			{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]`), 0o644)
	})
	m, _ := load(t, dir, Options{})
	if m.Dim() != 64 {
		t.Fatalf("cls+mean dim %d, want 64", m.Dim())
	}
	got, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]float32, len(g.Texts))
	for i := range want {
		want[i] = append(append([]float32{}, g.Modes["cls"][i]...), g.Modes["mean"][i]...)
	}
	if d := maxAbs(t, got, want); d > 1e-4 {
		t.Errorf("cls+mean max abs diff %g", d)
	}
}

func TestTruncation(t *testing.T) {
	g := readGoldenST(t)
	m, warnings := load(t, filepath.Join("testdata", "st"), Options{MaxSeqLength: 6})
	got, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, got, g.Truncated6); d > 1e-4 {
		t.Errorf("truncated max abs diff %g", d)
	}
	long := 0
	for _, ids := range g.IDs {
		if len(ids) > 6 {
			long++
		}
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "max_seq_length 6") {
		t.Errorf("warnings %q, want one about %d truncated texts", *warnings, long)
	}
}

func TestPlainBERTDir(t *testing.T) {
	g := readGoldenST(t)
	dir := copyST(t, func(dir string) {
		os.Remove(filepath.Join(dir, "modules.json"))
		os.RemoveAll(filepath.Join(dir, "1_Pooling"))
	})
	m, warnings := load(t, dir, Options{})
	if m.Normalized() || m.Pooling() != (Pooling{Mean: true}) {
		t.Fatalf("plain dir: pooling %v normalized %v", m.Pooling(), m.Normalized())
	}
	if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "no modules.json") {
		t.Errorf("warnings %q", *warnings)
	}
	got, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, got, g.Modes["mean"]); d > 1e-4 {
		t.Errorf("plain mean max abs diff %g", d)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"missing pooling config", func(d string) { os.RemoveAll(filepath.Join(d, "1_Pooling")) }, "1_Pooling/config.json is missing"},
		{"no pooling module", func(d string) {
			os.WriteFile(filepath.Join(d, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"}]`), 0o644)
		}, "no Pooling module"},
		{"dense module", func(d string) {
			os.WriteFile(filepath.Join(d, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
			{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
			{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]`), 0o644)
		}, "2_Dense/config.json"},
		{"bad modules.json", func(d string) { os.WriteFile(filepath.Join(d, "modules.json"), []byte(`{`), 0o644) }, "modules.json"},
		{"weighted mean", func(d string) {
			os.WriteFile(filepath.Join(d, "1_Pooling", "config.json"), []byte(`{"pooling_mode_weightedmean_tokens":true}`), 0o644)
		}, "weightedmean"},
		{"dimension", func(d string) {
			os.WriteFile(filepath.Join(d, "1_Pooling", "config.json"), []byte(`{"word_embedding_dimension":384,"pooling_mode_mean_tokens":true}`), 0o644)
		}, "word_embedding_dimension 384 does not match the transformer's hidden size 32"},
		{"no weights", func(d string) { os.Remove(filepath.Join(d, "model.safetensors")) }, "model.safetensors"},
	}
	for _, c := range cases {
		dir := copyST(t, c.edit)
		_, err := LoadWith(context.Background(), dir, Options{Client: offline(), Warn: func(string) {}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestPoolByHand(t *testing.T) {
	// B=1, T=3, H=2; the last token is padding.
	hidden := []float32{1, -2, 3, 4, 100, 100}
	mask := []float32{1, 1, 0}
	cases := []struct {
		p    Pooling
		want []float32
	}{
		{Pooling{CLS: true}, []float32{1, -2}},
		{Pooling{Max: true}, []float32{3, 4}},
		{Pooling{Mean: true}, []float32{2, 1}},
		{Pooling{MeanSqrtLen: true}, []float32{4 / float32(math.Sqrt2), 2 / float32(math.Sqrt2)}},
		{Pooling{CLS: true, Max: true, Mean: true}, []float32{1, -2, 3, 4, 2, 1}},
	}
	for _, c := range cases {
		dst := [][]float32{nil}
		Pool(c.p, hidden, mask, 1, 3, 2, dst)
		for i := range c.want {
			if len(dst[0]) != len(c.want) || math.Abs(float64(dst[0][i]-c.want[i])) > 1e-6 {
				t.Errorf("%v: got %v, want %v", c.p, dst[0], c.want)
				break
			}
		}
	}
	v := []float32{3, 4}
	Normalize(v)
	if v[0] != 0.6 || v[1] != 0.8 {
		t.Errorf("Normalize: %v", v)
	}
	z := []float32{0, 0}
	Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Errorf("Normalize of zero: %v", z)
	}
}

func TestParsePoolingConfig(t *testing.T) {
	cases := []struct {
		json string
		want Pooling
		err  string
	}{
		{`{"pooling_mode_mean_tokens": true}`, Pooling{Mean: true}, ""},
		{`{"pooling_mode_cls_token": true, "pooling_mode_max_tokens": true}`, Pooling{CLS: true, Max: true}, ""},
		{`{"pooling_mode": "cls"}`, Pooling{CLS: true}, ""},
		{`{"pooling_mode": "weird"}`, Pooling{}, "pooling_mode \"weird\""},
		{`{}`, Pooling{}, "no pooling mode"},
		{`{"pooling_mode_lasttoken": true}`, Pooling{}, "lasttoken"},
		{`[`, Pooling{}, "pooling config"},
	}
	for _, c := range cases {
		p, _, err := ParsePoolingConfig([]byte(c.json))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.json, err, c.err)
			}
			continue
		}
		if err != nil || p != c.want {
			t.Errorf("%s: %v %v, want %v", c.json, p, err, c.want)
		}
	}
}

func FuzzParsePoolingConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "st", "1_Pooling", "config.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"pooling_mode": "max"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, _, err := ParsePoolingConfig(b)
		if err == nil && p.Modes() == 0 {
			t.Fatalf("accepted a config with no pooling mode: %s", b)
		}
	})
}

func FuzzParseModules(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "st", "modules.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`[{"type":"sentence_transformers.models.Transformer","path":"../../etc"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseModules(b)
		if err != nil {
			return
		}
		for _, s := range append([]string{p.transformerPath, p.poolingPath}, p.densePaths...) {
			if strings.HasPrefix(s, "..") || strings.HasPrefix(s, "/") {
				t.Fatalf("module path %q escapes the repository", s)
			}
		}
	})
}

func TestConcurrentEmbed(t *testing.T) {
	g := readGoldenST(t)
	m, _ := load(t, filepath.Join("testdata", "st"), Options{BatchSize: 2})
	done := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			for r := 0; r < 5; r++ {
				got, err := m.Embed(g.Texts)
				if err != nil {
					done <- err
					return
				}
				for i := range got {
					for j := range got[i] {
						if d := got[i][j] - g.NormalizedMean[i][j]; d > 1e-4 || d < -1e-4 {
							done <- fmt.Errorf("text %d differs by %g under concurrency", i, d)
							return
						}
					}
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestEmbedAfterClose(t *testing.T) {
	m, _ := load(t, filepath.Join("testdata", "st"), Options{})
	if v, err := m.Embed(nil); err != nil || len(v) != 0 {
		t.Fatalf("no texts: %v %v", v, err)
	}
	m.Close()
	if _, err := m.Embed([]string{"x"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Embed after Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestTransformerSubdir covers the older layout where the Transformer
// module lives in its own folder (modules.json path "0_Transformer").
func TestTransformerSubdir(t *testing.T) {
	g := readGoldenST(t)
	dir := copyST(t, func(dir string) {
		sub := filepath.Join(dir, "0_Transformer")
		os.MkdirAll(sub, 0o755)
		for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "sentence_bert_config.json"} {
			if err := os.Rename(filepath.Join(dir, f), filepath.Join(sub, f)); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"0_Transformer","type":"sentence_transformers.models.Transformer"},
			{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
			{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`), 0o644)
	})
	m, _ := load(t, dir, Options{})
	got, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, got, g.NormalizedMean); d > 1e-4 || m.MaxSeqLength() != 256 {
		t.Errorf("subdir layout: max abs diff %g, max_seq_length %d", d, m.MaxSeqLength())
	}
}
