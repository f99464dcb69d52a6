package clip

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/safetensors"
	clipt "github.com/loupe-ml/loupe/tokenizer/clip"
)

// spec mirrors weight_spec in testdata/clip_reference.py: the drawing
// order, and each tensor's scale (gains are 1 + randn·scale).
type specEntry struct {
	name  string
	shape []int
	gain  bool
	scale float32
}

func weightSpec(cfg Config) []specEntry {
	H, I := cfg.HiddenSize, cfg.IntermediateSize
	s := []specEntry{
		{"text_model.embeddings.token_embedding.weight", []int{cfg.VocabSize, H}, false, 1.0},
		{"text_model.embeddings.position_embedding.weight", []int{cfg.MaxPositionEmbeddings, H}, false, 0.5},
	}
	for i := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		for _, pr := range []struct {
			n string
			s float32
		}{{"q_proj", 0.05}, {"k_proj", 0.05}, {"v_proj", 0.03}, {"out_proj", 0.03}} {
			s = append(s, specEntry{p + "self_attn." + pr.n + ".weight", []int{H, H}, false, pr.s})
			s = append(s, specEntry{p + "self_attn." + pr.n + ".bias", []int{H}, false, 0.02})
		}
		for _, ln := range []string{"layer_norm1", "layer_norm2"} {
			s = append(s, specEntry{p + ln + ".weight", []int{H}, true, 0.1})
			s = append(s, specEntry{p + ln + ".bias", []int{H}, false, 0.1})
		}
		s = append(s,
			specEntry{p + "mlp.fc1.weight", []int{I, H}, false, 0.04},
			specEntry{p + "mlp.fc1.bias", []int{I}, false, 0.02},
			specEntry{p + "mlp.fc2.weight", []int{H, I}, false, 0.02},
			specEntry{p + "mlp.fc2.bias", []int{H}, false, 0.02})
	}
	return append(s,
		specEntry{"text_model.final_layer_norm.weight", []int{H}, true, 0.1},
		specEntry{"text_model.final_layer_norm.bias", []int{H}, false, 0.1})
}

// writeModel draws the reference's random weights with the torch-exact
// generator and writes them once per (config, dtype) to a shared
// directory; each call gets its own directory with config.json and a
// symbolic link to the weights file, named file.
func writeModel(t *testing.T, name string, seed uint64, dtype, file string) (string, map[string][]float32) {
	t.Helper()
	cfgBytes, err := os.ReadFile(filepath.Join("testdata", name, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	key := name + "-" + dtype
	modelsMu.Lock()
	mf, ok := models[key]
	if !ok {
		mf, err = drawModel(cfgBytes, seed, dtype, filepath.Join(sharedDir, key+".safetensors"))
		if err != nil {
			modelsMu.Unlock()
			t.Fatal(err)
		}
		models[key] = mf
	}
	modelsMu.Unlock()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mf.path, filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
	return dir, mf.values
}

type modelFile struct {
	path   string
	values map[string][]float32
}

var (
	modelsMu  sync.Mutex
	models    = map[string]modelFile{}
	sharedDir string
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "loupe-clip-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func drawModel(cfgBytes []byte, seed uint64, dtype, path string) (modelFile, error) {
	cfg, err := ParseConfig(cfgBytes)
	if err != nil {
		return modelFile{}, err
	}
	g := noise.NewGenerator(seed)
	var tensors []safetensors.Tensor
	values := map[string][]float32{}
	for _, e := range weightSpec(cfg) {
		n := 1
		for _, d := range e.shape {
			n *= d
		}
		x := g.Randn(n)
		for i, v := range x {
			v = float32(v * e.scale)
			if e.gain {
				v = float32(1 + v)
			}
			x[i] = v
		}
		stored := dtype
		switch dtype { // 16-bit values stored as F32, for comparisons
		case "F16asF32":
			for i, v := range x {
				x[i] = safetensors.HalfToFloat32(safetensors.Float32ToHalf(v))
			}
			stored = "F32"
		case "BF16asF32":
			for i, v := range x {
				x[i] = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(v))
			}
			stored = "F32"
		}
		values[e.name] = x
		tensors = append(tensors, safetensors.Tensor{Name: e.name, Shape: e.shape, Data: x, DType: stored})
	}
	// an extra a real checkpoint carries, which Load must ignore
	tensors = append(tensors, safetensors.Tensor{Name: "text_model.embeddings.position_ids", Shape: []int{1, cfg.MaxPositionEmbeddings}, Data: make([]float32, cfg.MaxPositionEmbeddings)})
	return modelFile{path, values}, safetensors.WriteFile(path, tensors, nil)
}

type refCases map[string]struct {
	Seed    uint64   `json:"seed"`
	Prompts []string `json:"prompts"`
	IDs     [][]int  `json:"ids"`
	Scale   float64  `json:"scale"`
}

func loadRef(t *testing.T) refCases {
	b, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var r refCases
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func maxAbsDiff(t *testing.T, got []float32, golden string) float64 {
	t.Helper()
	want, rows, cols, err := npy.ReadFloat32(filepath.Join("testdata", golden))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != rows*cols {
		t.Fatalf("%s: got %d values, want %d×%d", golden, len(got), rows, cols)
	}
	d := 0.0
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
	}
	return d
}

// TestMatchesTorch runs the encoder on the reference's prompts, tokenized
// with package tokenizer/clip, and compares with PyTorch's outputs.
func TestMatchesTorch(t *testing.T) {
	ref := loadRef(t)
	sd1, err := clipt.Load("../../tokenizer/clip/testdata/vocab")
	if err != nil {
		t.Fatal(err)
	}
	sd2, err := clipt.LoadFiles("../../tokenizer/clip/testdata/vocab/vocab.json", "../../tokenizer/clip/testdata/vocab/merges.txt", clipt.Options{Pad: "!"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tok  *clipt.Tokenizer
	}{{"quick", sd1}, {"gelu", sd2}} {
		t.Run(tc.name, func(t *testing.T) {
			r := ref[tc.name]
			dir, _ := writeModel(t, tc.name, r.Seed, "F32", "model.safetensors")
			m, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var ids [][]int
			for i, p := range r.Prompts {
				enc := tc.tok.EncodePadded(p)
				if !slices.Equal(enc.IDs, r.IDs[i]) {
					t.Fatalf("prompt %q: tokenizer ids %v, reference %v", p, enc.IDs, r.IDs[i])
				}
				ids = append(ids, enc.IDs)
			}
			out, err := m.Encode(ids, Options{HiddenStates: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Hidden) != m.Config.NumHiddenLayers+1 {
				t.Errorf("%d hidden states, want %d", len(out.Hidden), m.Config.NumHiddenLayers+1)
			}
			for _, c := range []struct {
				got    []float32
				golden string
			}{{out.LastHidden, tc.name + "_last.npy"}, {out.Pooled, tc.name + "_pooled.npy"}} {
				d := maxAbsDiff(t, c.got, c.golden)
				t.Logf("%s: max |Go − PyTorch| = %.3g (output scale %.3g)", c.golden, d, r.Scale)
				if d > 1e-4 {
					t.Errorf("%s: max abs difference %.3g > 1e-4", c.golden, d)
				}
			}
			if tc.name == "quick" {
				skip, err := m.Encode(ids[:1], Options{Skip: 1})
				if err != nil {
					t.Fatal(err)
				}
				d := maxAbsDiff(t, skip.LastHidden, "quick_skip1.npy")
				t.Logf("quick_skip1.npy: max |Go − PyTorch| = %.3g", d)
				if d > 1e-4 {
					t.Errorf("clip skip 1: max abs difference %.3g > 1e-4", d)
				}
			}
		})
	}
}

// TestHalfWeights loads the same weights stored as F16 (under the fp16
// variant's file name) and BF16. The matrices stay 16-bit and are converted
// per layer during Encode, so the output must equal, bit for bit, that of a
// float32 checkpoint holding the rounded values.
func TestHalfWeights(t *testing.T) {
	r := loadRef(t)["gelu"]
	ids := loadRef(t)["gelu"].IDs
	for _, dt := range []struct{ dtype, file string }{{"F16", "model.fp16.safetensors"}, {"BF16", "model.safetensors"}} {
		dir, _ := writeModel(t, "gelu", r.Seed, dt.dtype, dt.file)
		m, err := Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", dt.dtype, err)
		}
		if m.Precision() != dt.dtype || m.Weights.Layers[0].QKVW != nil || m.Weights.TokenEmb != nil {
			t.Fatalf("%s: precision %q, matrices converted at load", dt.dtype, m.Precision())
		}
		refDir, _ := writeModel(t, "gelu", r.Seed, dt.dtype+"asF32", "model.safetensors")
		m32, err := Load(refDir)
		if err != nil {
			t.Fatal(err)
		}
		if m32.Precision() != "F32" {
			t.Fatalf("precision %q, want F32", m32.Precision())
		}
		got, err := m.Encode(ids, Options{HiddenStates: true})
		if err != nil {
			t.Fatal(err)
		}
		want, err := m32.Encode(ids, Options{HiddenStates: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range want.LastHidden {
			if got.LastHidden[i] != want.LastHidden[i] {
				t.Fatalf("%s: LastHidden[%d] = %v, float32 checkpoint of the rounded weights gives %v", dt.dtype, i, got.LastHidden[i], want.LastHidden[i])
			}
		}
		d := maxAbsDiff(t, got.LastHidden, "gelu_last.npy")
		t.Logf("%s weights: max |Go − PyTorch float32| = %.3g", dt.dtype, d)
		m.Close()
		m32.Close()
	}
}

func TestLoadErrors(t *testing.T) {
	r := loadRef(t)["gelu"]
	dir, _ := writeModel(t, "gelu", r.Seed, "F32", "model.safetensors")
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(c map[string]any) { c["num_hidden_layers"] = 3 }, `"text_model.encoder.layers.2.layer_norm1.weight" is missing`},
		{func(c map[string]any) { c["num_hidden_layers"] = 1 }, `unexpected tensor "text_model.encoder.layers.1.`},
		{func(c map[string]any) { c["hidden_act"] = "swish" }, `hidden_act "swish"`},
		{func(c map[string]any) { c["intermediate_size"] = 1024 }, `"text_model.encoder.layers.0.mlp.fc1.bias" has shape [3072], want [1024]`},
		{func(c map[string]any) { c["num_attention_heads"] = 7 }, "not a multiple"},
	} {
		var c map[string]any
		if err := json.Unmarshal(cfg, &c); err != nil {
			t.Fatal(err)
		}
		tc.edit(c)
		b, _ := json.Marshal(c)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	r := loadRef(t)["gelu"]
	dir, _ := writeModel(t, "gelu", r.Seed, "F32", "model.safetensors")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	V := m.Config.VocabSize
	for _, tc := range []struct {
		ids  [][]int
		opt  Options
		want string
	}{
		{nil, Options{}, "no sequences"},
		{[][]int{make([]int, 78)}, Options{}, "sequence length 78"},
		{[][]int{{1, 2}, {1}}, Options{}, "sequence 1 has 1 ids"},
		{[][]int{{1, V}}, Options{}, "outside the vocabulary"},
		{[][]int{{1, 2}}, Options{Skip: 2}, "skip 2"},
	} {
		if _, err := m.Encode(tc.ids, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error containing %q, got %v", tc.want, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	b, _ := os.ReadFile("testdata/quick/config.json")
	f.Add(b)
	f.Add([]byte(`{"model_type": "clip", "text_config": {"hidden_size": 64, "num_attention_heads": 4}}`))
	f.Add([]byte(`{"hidden_act": "relu"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err == nil && c.Validate() != nil {
			t.Fatal("ParseConfig accepted an invalid config")
		}
	})
}
