package bert

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Golden files come from testdata/reference.py (plain PyTorch). Regenerate
// from the repository root with:
//
//	/usr/bin/python3 model/bert/testdata/reference.py

type golden struct {
	Prefix      string  `json:"prefix"`
	IDs         [][]int `json:"ids"`
	TypeIDs     [][]int `json:"type_ids"`
	HiddenShape []int   `json:"hidden_shape"`
	PooledShape []int   `json:"pooled_shape"`
}

func readGolden(t *testing.T, dir string) (golden, []float32, []float32) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	hidden := readF32(t, filepath.Join(dir, "hidden.f32"))
	var pooled []float32
	if g.PooledShape != nil {
		pooled = readF32(t, filepath.Join(dir, "pooled.f32"))
	}
	return g, hidden, pooled
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// maxDiff returns the largest |a-b| over the positions where mask (per row
// of width w) is nonzero; a nil mask compares everything.
func maxDiff(a, b []float32, mask []float32, w int) float64 {
	d := 0.0
	for i := range a {
		if mask != nil && mask[i/w] == 0 {
			continue
		}
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// mapSource is an in-memory Source.
type mapSource map[string]struct {
	shape []int
	data  []float32
}

func (s mapSource) Shape(name string) ([]int, bool) { e, ok := s[name]; return e.shape, ok }
func (s mapSource) Float32(name string) ([]float32, error) {
	e, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("no tensor %q", name)
	}
	return e.data, nil
}

// prngTensor mirrors reference.py's prng_tensor: splitmix64 over a counter
// seeded with the FNV-1a hash of the tensor name.
func prngTensor(name string, n int, center, scale float64) []float32 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 0x100000001B3
	}
	out := make([]float32, n)
	for k := range out {
		z := h + uint64(k+1)*0x9E3779B97F4A7C15
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>40) / float64(1<<24)
		out[k] = float32(center + scale*(2*u-1))
	}
	return out
}

// prngSource builds reference.py's tensor_specs for cfg.
func prngSource(cfg Config, prefix string, pooler bool) mapSource {
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	w := 0.05 * math.Sqrt(3)
	src := mapSource{}
	add := func(name string, shape []int, center, scale float64) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		src[prefix+name] = struct {
			shape []int
			data  []float32
		}{shape, prngTensor(prefix+name, n, center, scale)}
	}
	add("embeddings.word_embeddings.weight", []int{cfg.VocabSize, H}, 0, 0.2)
	add("embeddings.position_embeddings.weight", []int{cfg.MaxPositionEmbeddings, H}, 0, 0.2)
	add("embeddings.token_type_embeddings.weight", []int{cfg.TypeVocabSize, H}, 0, 0.2)
	add("embeddings.LayerNorm.weight", []int{H}, 1, 0.1)
	add("embeddings.LayerNorm.bias", []int{H}, 0, 0.1)
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, m := range []string{"query", "key", "value"} {
			add(p+"attention.self."+m+".weight", []int{H, H}, 0, w)
			add(p+"attention.self."+m+".bias", []int{H}, 0, 0.02)
		}
		add(p+"attention.output.dense.weight", []int{H, H}, 0, w)
		add(p+"attention.output.dense.bias", []int{H}, 0, 0.02)
		add(p+"attention.output.LayerNorm.weight", []int{H}, 1, 0.1)
		add(p+"attention.output.LayerNorm.bias", []int{H}, 0, 0.1)
		add(p+"intermediate.dense.weight", []int{I, H}, 0, w)
		add(p+"intermediate.dense.bias", []int{I}, 0, 0.02)
		add(p+"output.dense.weight", []int{H, I}, 0, w/2)
		add(p+"output.dense.bias", []int{H}, 0, 0.02)
		add(p+"output.LayerNorm.weight", []int{H}, 1, 0.1)
		add(p+"output.LayerNorm.bias", []int{H}, 0, 0.1)
	}
	if pooler {
		add("pooler.dense.weight", []int{H, H}, 0, w)
		add("pooler.dense.bias", []int{H}, 0, 0.02)
	}
	return src
}

const tol = 1e-4

func checkParity(t *testing.T, m *Model, g golden, hidden, pooled []float32) {
	t.Helper()
	out, err := m.Forward(Input{IDs: g.IDs, TypeIDs: g.TypeIDs})
	if err != nil {
		t.Fatal(err)
	}
	if want := g.HiddenShape; out.Batch != want[0] || out.SeqLen != want[1] || out.HiddenSize != want[2] {
		t.Fatalf("last_hidden_state shape [%d %d %d], want %v", out.Batch, out.SeqLen, out.HiddenSize, want)
	}
	// Padded positions are compared too: HF computes them the same way.
	d := maxDiff(out.LastHidden, hidden, nil, 1)
	t.Logf("last_hidden_state max abs diff %.3g", d)
	if d > tol {
		t.Errorf("last_hidden_state max abs diff %g > %g", d, tol)
	}
	if (out.Pooled == nil) != (pooled == nil) {
		t.Fatalf("pooler output present = %v, golden has it = %v", out.Pooled != nil, pooled != nil)
	}
	if pooled != nil {
		d := maxDiff(out.Pooled, pooled, nil, 1)
		t.Logf("pooler_output max abs diff %.3g", d)
		if d > tol {
			t.Errorf("pooler_output max abs diff %g > %g", d, tol)
		}
	}
	// Each sequence alone must give its rows of the padded batch.
	H, T := out.HiddenSize, out.SeqLen
	batch := append([]float32(nil), out.LastHidden...)
	mask := append([]float32(nil), out.Mask...)
	for b := range g.IDs {
		one, err := m.Forward(Input{IDs: g.IDs[b : b+1], TypeIDs: g.TypeIDs[b : b+1]})
		if err != nil {
			t.Fatal(err)
		}
		n := len(g.IDs[b])
		d := maxDiff(one.LastHidden[:n*H], batch[b*T*H:(b*T+n)*H], mask[b*T:(b+1)*T], H)
		if d > tol {
			t.Errorf("sequence %d alone differs from its padded batch rows by %g", b, d)
		}
	}
}

func TestTinyParity(t *testing.T) {
	dir := filepath.Join("testdata", "tiny")
	g, hidden, pooled := readGolden(t, dir)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if g.Prefix != "bert." {
		t.Fatalf("tiny golden should use the bert. prefix, has %q", g.Prefix)
	}
	checkParity(t, m, g, hidden, pooled)
}

func TestMiniLMShapeParity(t *testing.T) {
	dir := filepath.Join("testdata", "minilm")
	g, hidden, pooled := readGolden(t, dir)
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HiddenSize != 384 || cfg.NumHiddenLayers != 6 || cfg.NumAttentionHeads != 12 || cfg.IntermediateSize != 1536 || cfg.VocabSize != 30522 {
		t.Fatalf("minilm config is not all-MiniLM-L6-v2-shaped: %+v", cfg)
	}
	m, err := FromSource(cfg, prngSource(cfg, g.Prefix, true))
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, m, g, hidden, pooled)
}

func TestAttentionMaskInput(t *testing.T) {
	// An explicit mask with trailing zeros must equal the shorter sequence.
	dir := filepath.Join("testdata", "tiny")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	short, err := m.Forward(Input{IDs: [][]int{{2, 7, 9, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), short.LastHidden...)
	long, err := m.Forward(Input{IDs: [][]int{{2, 7, 9, 3, 11, 12}}, Mask: [][]int{{1, 1, 1, 1, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(long.LastHidden[:len(want)], want, nil, 1); d > 1e-6 {
		t.Errorf("masked tail changed the visible positions by %g", d)
	}
}

func TestForwardErrors(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	long := make([]int, 41)
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"empty batch", Input{}, "empty batch"},
		{"empty sequence", Input{IDs: [][]int{{2}, {}}}, "sequence 1 is empty"},
		{"id too large", Input{IDs: [][]int{{2, 50}}}, "token id 50 out of range [0, 50)"},
		{"negative id", Input{IDs: [][]int{{-1}}}, "token id -1"},
		{"type id", Input{IDs: [][]int{{2, 3}}, TypeIDs: [][]int{{0, 2}}}, "token type id 2 out of range [0, 2)"},
		{"type length", Input{IDs: [][]int{{2, 3}}, TypeIDs: [][]int{{0}}}, "2 tokens but 1 type ids"},
		{"mask length", Input{IDs: [][]int{{2, 3}}, Mask: [][]int{{1, 1, 1}}}, "a mask of 3"},
		{"too long", Input{IDs: [][]int{long}}, "more than max_position_embeddings = 40"},
	}
	for _, c := range cases {
		_, err := m.Forward(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cfg := Config{VocabSize: 10, HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 12, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", PositionEmbeddingType: "absolute"}
	good := prngSource(cfg, "", false)
	if _, err := FromSource(cfg, good); err != nil {
		t.Fatalf("good source: %v", err)
	}
	if m, err := FromSource(cfg, prngSource(cfg, "bert.", true)); err != nil || m.Weights.PoolerW == nil {
		t.Fatalf("bert. prefix with pooler: %v", err)
	}
	missing := prngSource(cfg, "", false)
	delete(missing, "encoder.layer.0.intermediate.dense.bias")
	wrong := prngSource(cfg, "", false)
	e := wrong["encoder.layer.0.attention.self.key.weight"]
	e.shape = []int{8, 4}
	wrong["encoder.layer.0.attention.self.key.weight"] = e
	extra := prngSource(Config{VocabSize: 10, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 12, TypeVocabSize: 2}, "", false)
	cases := []struct {
		name string
		src  mapSource
		want string
	}{
		{"missing", missing, `tensor "encoder.layer.0.intermediate.dense.bias" is missing (want shape [16])`},
		{"shape", wrong, `tensor "encoder.layer.0.attention.self.key.weight" has shape [8 4], want [8 8]`},
		{"extra layer", extra, "more than num_hidden_layers = 1"},
	}
	for _, c := range cases {
		_, err := FromSource(cfg, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct{ json, want string }{
		{`{"position_embedding_type": "relative_key"}`, `position_embedding_type "relative_key" is not supported`},
		{`{"hidden_act": "swish"}`, `hidden_act "swish" is not supported`},
		{`{"model_type": "roberta"}`, `model_type "roberta" is not supported`},
		{`{"model_type": "bert"}`, ""},
		{`{"hidden_size": 100, "num_attention_heads": 12}`, "not a multiple"},
		{`{"num_hidden_layers": 0}`, "num_hidden_layers = 0"},
		{`{"layer_norm_eps": -1}`, "layer_norm_eps"},
		{`{"hidden_size": "x"}`, "config.json"},
		{`{}`, ""},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.json))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", c.json, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.json, err, c.want)
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("no config: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("no weights: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("x"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "pytorch_model.bin") {
		t.Errorf("pytorch only: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("short"), 0o644)
	if _, err := Load(dir); err == nil {
		t.Errorf("truncated safetensors loaded")
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, dir := range []string{"tiny", "minilm"} {
		b, err := os.ReadFile(filepath.Join("testdata", dir, "config.json"))
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"hidden_size": 0}`))
	f.Add([]byte(`{"num_attention_heads": -3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil && (c.HiddenSize%c.NumAttentionHeads != 0 || c.HiddenSize <= 0) {
			t.Fatalf("accepted invalid config %+v", c)
		}
	})
}

func BenchmarkMiniLMForward(b *testing.B) { benchmarkMiniLM(b, Float32) }

// FuzzForward feeds arbitrary ids, type ids and masks to the tiny model:
// invalid input must be an error, never a panic, and valid input must give
// finite outputs.
func FuzzForward(f *testing.F) {
	m, err := Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{2, 7, 9, 3}, []byte{0, 0, 1, 1}, []byte{1, 1, 1, 0}, uint8(2))
	f.Add([]byte{255}, []byte{}, []byte{}, uint8(1))
	f.Add([]byte{2, 3, 4, 5, 6, 7}, []byte{0, 0, 0, 0, 0, 9}, []byte{0, 0, 0, 0, 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, ids, types, mask []byte, split uint8) {
		if len(ids) > 64 {
			ids = ids[:64]
		}
		in := Input{}
		s := int(split)%4 + 1
		for lo := 0; lo < len(ids); lo += s {
			hi := min(lo+s, len(ids))
			var seq, tt, mk []int
			for i := lo; i < hi; i++ {
				seq = append(seq, int(ids[i])-8)
				if i < len(types) {
					tt = append(tt, int(types[i]))
				} else {
					tt = append(tt, 0)
				}
				if i < len(mask) {
					mk = append(mk, int(mask[i]&1))
				} else {
					mk = append(mk, 1)
				}
			}
			in.IDs = append(in.IDs, seq)
			in.TypeIDs = append(in.TypeIDs, tt)
			in.Mask = append(in.Mask, mk)
		}
		out, err := m.Forward(in)
		if err != nil {
			return
		}
		for _, v := range out.LastHidden {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite output for %+v", in)
			}
		}
	})
}

func TestAttentionPathsAgree(t *testing.T) {
	dir := filepath.Join("testdata", "tiny")
	g, _, _ := readGolden(t, dir)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := Input{IDs: g.IDs, TypeIDs: g.TypeIDs}
	fast, err := m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), fast.LastHidden...)
	perKeyAttention = true
	defer func() { perKeyAttention = false }()
	slow, err := m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(slow.LastHidden, want, nil, 1); d > 1e-5 {
		t.Errorf("per-key and matrix attention differ by %g", d)
	}
}

// TestExplicitMasks checks masks with holes, left padding and a fully
// masked sequence (uniform attention over all T keys, as HF's finfo.min
// mask gives) against the reference.
func TestExplicitMasks(t *testing.T) {
	dir := filepath.Join("testdata", "tiny")
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		golden
		Masks [][]int `json:"masks"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	want := readF32(t, filepath.Join(dir, "masked.f32"))
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in := Input{IDs: g.IDs, TypeIDs: g.TypeIDs, Mask: make([][]int, len(g.IDs))}
	for b := range g.IDs {
		in.Mask[b] = g.Masks[b][:len(g.IDs[b])]
	}
	out, err := m.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	d := maxDiff(out.LastHidden, want, nil, 1)
	t.Logf("explicit masks: last_hidden_state max abs diff %.3g", d)
	if d > tol {
		t.Errorf("explicit masks: max abs diff %g", d)
	}
	// The hooked path materialises the probabilities; same result.
	in.Hook = func(*Activation) {}
	if out, err = m.Forward(in); err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(out.LastHidden, want, nil, 1); d > tol {
		t.Errorf("explicit masks with a hook: max abs diff %g", d)
	}
}

func TestHooks(t *testing.T) {
	dir := filepath.Join("testdata", "tiny")
	g, hidden, _ := readGolden(t, dir)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := m.Config
	type key struct {
		name       string
		layer, seq int
	}
	seen := map[key][]int{}
	var order []string
	hook := func(a *Activation) {
		seen[key{a.Name, a.Layer, a.Seq}] = append([]int(nil), a.Shape...)
		if a.Seq == 0 {
			order = append(order, a.Name)
		}
		if a.Name == "attn_probs" {
			// Rows sum to 1 and padded keys get 0.
			nh, T := a.Shape[0], a.Shape[1]
			for h := 0; h < nh; h++ {
				for i := 0; i < T; i++ {
					var sum float32
					for j := 0; j < T; j++ {
						p := a.Data[(h*T+i)*T+j]
						if j >= a.Len && p != 0 {
							t.Fatalf("layer %d seq %d: padded key %d has probability %g", a.Layer, a.Seq, j, p)
						}
						sum += p
					}
					if math.Abs(float64(sum-1)) > 1e-5 {
						t.Fatalf("attention row sums to %g", sum)
					}
				}
			}
		}
	}
	out, err := m.Forward(Input{IDs: g.IDs, TypeIDs: g.TypeIDs, Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	// An observing hook must not change the result.
	if d := maxDiff(out.LastHidden, hidden, nil, 1); d > tol {
		t.Errorf("hooked forward differs from golden by %g", d)
	}
	T := out.SeqLen
	want := map[string][]int{"embeddings": {T, cfg.HiddenSize}, "attn_probs": {cfg.NumAttentionHeads, T, T},
		"mlp_act": {T, cfg.IntermediateSize}, "resid_post": {T, cfg.HiddenSize}}
	for k, shape := range seen {
		if !slices.Equal(shape, want[k.name]) {
			t.Errorf("%v: shape %v, want %v", k, shape, want[k.name])
		}
	}
	if n := len(seen); n != len(g.IDs)*(1+3*cfg.NumHiddenLayers) {
		t.Errorf("%d hook calls, want %d", n, len(g.IDs)*(1+3*cfg.NumHiddenLayers))
	}
	if strings.Join(order, ",") != "embeddings,attn_probs,mlp_act,resid_post,attn_probs,mlp_act,resid_post" {
		t.Errorf("hook order %v", order)
	}
	// Interventions: zeroing every MLP activation or flattening attention
	// changes the output.
	base := append([]float32(nil), out.LastHidden...)
	for _, name := range []string{"mlp_act", "attn_probs"} {
		out, err := m.Forward(Input{IDs: g.IDs, TypeIDs: g.TypeIDs, Hook: func(a *Activation) {
			if a.Name == name {
				clear(a.Data)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(out.LastHidden, base, nil, 1); d < 1e-3 {
			t.Errorf("zeroing %s changed the output by only %g", name, d)
		}
	}
}
